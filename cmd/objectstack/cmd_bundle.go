package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/bundle"
)

func newBundleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Work with metadata bundles",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usagef("bundle needs a subcommand: validate")
		},
	}
	cmd.AddCommand(newBundleValidateCmd())
	return cmd
}

// bundleValidateOutput is the --json shape: the protocol's DeployValidationResult plus what was loaded.
type bundleValidateOutput struct {
	bundle.ValidationResult
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Checksum string   `json:"checksum"`
	Objects  []string `json:"objects"`
}

func newBundleValidateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate DIR",
		Short: "Validate a bundle folder (bundle.yaml + objects/, views/, flows/, permissions/, seed/)",
		Long: "Loads and validates a bundle folder without touching any database. Prints every issue as\n" +
			"file:line: severity path: message. Exit code 0 when the bundle is valid, 1 when it is not, 2 for bad usage.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, res, err := bundle.Load(args[0])
			if err != nil {
				return fmt.Errorf("bundle validate: %w", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeValidateJSON(out, b, res); err != nil {
					return err
				}
			} else {
				writeValidateText(out, args[0], b, res)
			}
			if !res.Valid {
				return silentError{exitFailed}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the validation result as JSON (protocol field names)")
	return cmd
}

func writeValidateJSON(w io.Writer, b *bundle.Bundle, res bundle.ValidationResult) error {
	o := bundleValidateOutput{
		ValidationResult: res,
		Name:             b.Manifest.Name,
		Version:          b.Manifest.Version,
		Checksum:         b.Checksum,
		Objects:          make([]string, 0, len(b.Objects)),
	}
	for _, obj := range b.Objects {
		o.Objects = append(o.Objects, obj.Name)
	}
	if err := writeJSON(w, o); err != nil {
		return fmt.Errorf("bundle validate: write result: %w", err)
	}
	return nil
}

func writeValidateText(w io.Writer, dir string, b *bundle.Bundle, res bundle.ValidationResult) {
	for _, is := range res.Issues {
		fmt.Fprintln(w, is.String())
	}
	name := b.Manifest.Name
	if name == "" {
		name = dir
	}
	if res.Valid {
		fmt.Fprintf(w, "bundle %s %s is valid: %d object(s), %d warning(s), checksum %s\n",
			name, b.Manifest.Version, len(b.Objects), res.WarningCount, b.Checksum)
		return
	}
	fmt.Fprintf(w, "bundle %s is invalid: %d error(s), %d warning(s)\n", name, res.ErrorCount, res.WarningCount)
}
