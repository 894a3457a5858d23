package main

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/render"
	"github.com/avatar-project/avatar-sync/report"
)

// version, commit and date are stamped at build time (`make build`, `make image`, `make release`):
// -ldflags "-X main.version=v1.2.3 -X main.commit=<hash> -X main.date=<RFC 3339>". A plain
// `go build` leaves version "dev" and takes commit and date from the build's VCS information.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// The watch Deployment render writes defaults to the image `make image` built from this same
// commit: ghcr.io/avatar-project/avatar-sync:<version> (issue 25).
func init() { render.BuildVersion = version }

// versionInfo is what `version -o json` prints.
func versionInfo() map[string]string {
	info := map[string]string{"version": version, "commit": commit, "date": date, "go": runtime.Version(),
		"platform": runtime.GOOS + "/" + runtime.GOARCH, "image": render.DefaultWatchImage()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, setting := range bi.Settings {
			switch {
			case setting.Key == "vcs.revision" && info["commit"] == "":
				info["commit"] = setting.Value
			case setting.Key == "vcs.time" && info["date"] == "":
				info["date"] = setting.Value
			}
		}
	}
	return info
}

func newVersionCmd(g *globalOptions, s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print avatar-sync's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput("text", "json"); err != nil {
				return err
			}
			if g.output == "json" {
				return report.RenderVersionJSON(s.out, versionInfo())
			}
			return report.RenderVersionText(s.out, versionInfo())
		},
	}
}
