package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// ValidateReport is what `validate` found; its JSON form is validate's `-o json` output.
type ValidateReport struct {
	File        string           `json:"file"`
	Valid       bool             `json:"valid"`
	Errors      int              `json:"errors"`
	Warnings    int              `json:"warnings"`
	Diagnostics spec.Diagnostics `json:"diagnostics"`
	// PluginsNotRun are the devices whose external plugin was not run (no --plugins), so their
	// parameters are unchecked.
	PluginsNotRun []string `json:"pluginsNotRun,omitempty"`
	// Spec is the loaded spec when it is free of errors (nil otherwise), for the summary line.
	Spec *spec.Spec `json:"-"`
}

// NewValidateReport judges diags: with strict, warnings make the spec invalid too.
func NewValidateReport(file string, sp *spec.Spec, diags spec.Diagnostics, notRun []string, strict bool) ValidateReport {
	if diags == nil {
		diags = spec.Diagnostics{}
	}
	errs, warns := diags.Errors(), diags.Warnings()
	return ValidateReport{File: file, Valid: len(errs) == 0 && (!strict || len(warns) == 0), Errors: len(errs),
		Warnings: len(warns), Diagnostics: diags, PluginsNotRun: notRun, Spec: sp}
}

// RenderValidateJSON writes validate's `-o json` document.
func RenderValidateJSON(w io.Writer, r ValidateReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// RenderValidateText writes every diagnostic, one per line as file:line:col: message, and the
// verdict to diag (stderr); a valid spec's summary goes to w.
func RenderValidateText(w, diag io.Writer, r ValidateReport) error {
	for _, d := range r.Diagnostics {
		fmt.Fprintln(diag, d)
	}
	if len(r.PluginsNotRun) > 0 {
		fmt.Fprintf(diag, "note: the parameters of %s served by external plugins (%s) were not checked; --plugins runs the plugins' validate op (only for a spec you trust)\n",
			Count(len(r.PluginsNotRun), "device"), strings.Join(r.PluginsNotRun, ", "))
	}
	var err error
	switch {
	case r.Errors > 0:
		_, err = fmt.Fprintf(diag, "%s is invalid: %s, %s\n", r.File, Count(r.Errors, "error"), Count(r.Warnings, "warning"))
	case !r.Valid:
		_, err = fmt.Fprintf(diag, "%s has %s and --strict is set\n", r.File, Count(r.Warnings, "warning"))
	default:
		sp := r.Spec
		tail := ""
		if r.Warnings > 0 {
			tail = " (" + Count(r.Warnings, "warning") + ")"
		}
		_, err = fmt.Fprintf(w, "%s is valid: %s, %s, %s, %s%s\n", r.File,
			Count(len(sp.Brokers), "broker"), Count(len(sp.Topics), "topic"),
			Count(len(sp.Clusters), "cluster target"), Count(len(sp.Devices), "device"), tail)
	}
	return err
}
