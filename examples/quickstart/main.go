// Command quickstart is the README's main command (`go run ./examples/quickstart`): it builds OpenTofu
// (from the tools module, once) and the provider, installs the provider through a dev_overrides CLI
// configuration, and runs main.tf in a scratch folder on the local backend:
//
//  1. tofu plan            — three tenants, the CRM bundle on each, the helpdesk app on one
//  2. tofu apply           — provisions and migrates; the outputs list the DDL each database got
//  3. tofu plan            — must report no changes
//  4. tofu plan  (crm-v2)  — a bundle upgrade: the plan shows the exact ALTER/CREATE statements per tenant
//  5. tofu apply (crm-v2)
//  6. tofu plan  (crm-v2)  — no changes again
//
// Only Go is needed. Flags: -keep keeps the scratch folder, -dir uses a given folder.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
)

func main() {
	keep := flag.Bool("keep", false, "keep the scratch folder (state, tenant databases) after the run")
	dir := flag.String("dir", "", "scratch folder to use instead of a new temporary one")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *dir, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func step(format string, a ...any) {
	fmt.Printf("\n==> "+format+"\n\n", a...)
}

func run(ctx context.Context, dir string, keep bool) error {
	root, err := tofu.RepoRoot()
	if err != nil {
		return err
	}
	step("Finding OpenTofu")
	bin, err := tofu.Tofu(ctx, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Println("using", bin)

	if dir == "" {
		if dir, err = os.MkdirTemp("", "objectstack-quickstart-"); err != nil {
			return err
		}
		if !keep {
			defer os.RemoveAll(dir)
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	pluginDir := filepath.Join(dir, "plugins")
	work := filepath.Join(dir, "work")
	for _, d := range []string{pluginDir, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	step("Building the provider")
	if _, err := tofu.BuildProvider(ctx, pluginDir); err != nil {
		return err
	}
	cliConfig := filepath.Join(dir, "tofu.rc")
	if err := tofu.WriteCLIConfig(cliConfig, pluginDir); err != nil {
		return err
	}
	src, err := os.ReadFile(filepath.Join(root, "examples", "quickstart", "main.tf"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), src, 0o644); err != nil {
		return err
	}
	fmt.Println("provider installed through dev_overrides in", cliConfig)
	fmt.Println("working directory:", work)

	vars := []string{"-var", "examples_dir=" + filepath.Join(root, "examples"), "-var", "data_dir=" + filepath.Join(dir, "data")}
	v2 := append(append([]string(nil), vars...), "-var", "crm_bundle=crm-v2")
	color := colorTerminal()
	tf := func(args ...string) error {
		if !color {
			args = append(args[:1:1], append([]string{"-no-color"}, args[1:]...)...)
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = work
		cmd.Env = tofu.Env(cliConfig)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		start := time.Now()
		err := cmd.Run()
		fmt.Printf("\n(%s took %.1fs)\n", args[0], time.Since(start).Seconds())
		return err
	}
	noChanges := func(what string, args ...string) error {
		err := tf(append([]string{"plan", "-detailed-exitcode", "-input=false"}, args...)...)
		switch tofu.ExitCode(err) {
		case 0:
			fmt.Println("OK: no changes —", what)
			return nil
		case 2:
			return fmt.Errorf("%s: the plan after apply is not empty", what)
		default:
			return fmt.Errorf("%s: tofu plan: %w", what, err)
		}
	}

	step("1/6 tofu plan: 3 tenants, the CRM bundle on each, the helpdesk app on acme")
	fmt.Println("(the tenants do not exist yet, so their DDL is computed at apply time)")
	if err := tf(append([]string{"plan", "-input=false"}, vars...)...); err != nil {
		return fmt.Errorf("tofu plan: %w", err)
	}
	step("2/6 tofu apply")
	if err := tf(append([]string{"apply", "-auto-approve", "-input=false"}, vars...)...); err != nil {
		return fmt.Errorf("tofu apply: %w", err)
	}
	step("3/6 tofu plan again: expecting no changes")
	if err := noChanges("after the first apply", vars...); err != nil {
		return err
	}
	step("4/6 tofu plan with the CRM bundle upgraded to crm-v2: the plan shows each database's DDL")
	if err := tf(append([]string{"plan", "-input=false"}, v2...)...); err != nil {
		return fmt.Errorf("tofu plan: %w", err)
	}
	step("5/6 tofu apply crm-v2")
	if err := tf(append([]string{"apply", "-auto-approve", "-input=false"}, v2...)...); err != nil {
		return fmt.Errorf("tofu apply: %w", err)
	}
	step("6/6 tofu plan again: expecting no changes")
	if err := noChanges("after the upgrade", v2...); err != nil {
		return err
	}
	step("Done")
	if keep {
		fmt.Println("state and tenant databases kept in", dir)
	}
	return nil
}

// colorTerminal reports whether stdout is a terminal that wants colour (NO_COLOR unset).
func colorTerminal() bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := os.Stdout.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
