// Command terraform-provider-objectstack is the ObjectStack Terraform/OpenTofu provider plugin
// (protocol 6). OpenTofu and Terraform start it; run it with -debug to attach a debugger.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/tofu"
	"github.com/objectstack-ai/terraform-provider-objectstack/resources"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	debug := flag.Bool("debug", false, "run the provider in debug mode for debuggers such as delve; "+
		"prints a TF_REATTACH_PROVIDERS value to export before running tofu/terraform")
	flag.Parse()
	quietSDKLogs()
	// A CPU profile of one provider process, for `make bench-terraform` investigations.
	if path := os.Getenv("OBJECTSTACK_PROVIDER_CPUPROFILE"); path != "" {
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid())); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	err := providerserver.Serve(context.Background(), resources.Provider(version), providerserver.ServeOpts{
		Address:         tofu.ProviderAddress,
		Debug:           *debug,
		ProtocolVersion: 6,
	})
	if err != nil {
		log.Print(err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// quietSDKLogs turns the plugin SDK's trace logging off unless logging was asked for. The SDK formats
// a JSON line per framework step at trace level, which OpenTofu discards without TF_LOG; on a plan of
// a few hundred resources that formatting was a fifth of the provider's CPU time.
func quietSDKLogs() {
	for _, v := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_PATH", "TF_ACC_LOG_PATH"} {
		if os.Getenv(v) != "" {
			return
		}
	}
	for _, v := range []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		if os.Getenv(v) == "" {
			os.Setenv(v, "OFF")
		}
	}
}
