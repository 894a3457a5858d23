package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func newVersionCmd(g *globalOptions, s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print avatar-sync's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			info := map[string]string{"version": version, "go": runtime.Version()}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, setting := range bi.Settings {
					if setting.Key == "vcs.revision" {
						info["commit"] = setting.Value
					}
				}
			}
			if g.output == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			_, err := fmt.Fprintf(s.out, "avatar-sync %s (%s)\n", info["version"], info["go"])
			return err
		},
	}
}
