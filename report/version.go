package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// RenderVersionJSON writes `version -o json`: the info map (version, commit, date, go, platform,
// image) as one object.
func RenderVersionJSON(w io.Writer, info map[string]string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(info)
}

// RenderVersionText writes `version`'s one line; a commit or date the build did not record is
// "unknown".
func RenderVersionText(w io.Writer, info map[string]string) error {
	_, err := fmt.Fprintf(w, "avatar-sync %s (commit %s, built %s, %s, %s)\n", info["version"],
		orUnknown(info["commit"]), orUnknown(info["date"]), info["go"], info["platform"])
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
