package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/avatar-project/avatar-sync/spec"
)

// RenderExplainText writes `explain KEY` (one: the key's whole explanation) or `explain` (a line per
// key: its name and what it does).
func RenderExplainText(w io.Writer, list []spec.Explanation, one bool) error {
	if one && len(list) == 1 {
		_, err := fmt.Fprint(w, list[0])
		return err
	}
	for _, e := range list {
		if _, err := fmt.Fprintf(w, "%-40s %s\n", e.Key, e.Doc); err != nil {
			return err
		}
	}
	return nil
}

// RenderExplainJSON writes `explain -o json`: one object for one key, else an array.
func RenderExplainJSON(w io.Writer, list []spec.Explanation, one bool) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if one && len(list) == 1 {
		return enc.Encode(list[0])
	}
	return enc.Encode(list)
}
