package report

import (
	"fmt"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
)

// The Kubernetes objects of a plan (issue 11), shown as kubectl users read them:
//
//	~ update StatefulSet avatar/kafka-broker-2
//	      spec.template.spec.containers[0].image: apache/kafka:3.8.1 → 3.9.0

// sensitive replaces a Secret's values wherever a view prints them; the adapter already masks them,
// and a view never relies on that alone.
const sensitive = "(sensitive)"

// objectSymbol is the marker of an object change (symbol's).
func objectSymbol(c plans.Change) (string, string) { return symbol(c.Action) }

// objectFields lists "path: before → after" per field, a Secret's values masked.
func objectFields(c plans.Change) []string {
	var out []string
	for _, f := range c.Object.Fields {
		b, a := f.Before, f.After
		if c.Object.Sensitive && (strings.HasPrefix(f.Path, "data") || strings.HasPrefix(f.Path, "stringData")) {
			b, a = sensitive, sensitive
		}
		out = append(out, fmt.Sprintf("%s: %s → %s", f.Path, b, a))
	}
	return out
}

// objectConflicts lists the fields another field manager owns, naming it.
func objectConflicts(c plans.Change) []string {
	var out []string
	for _, cf := range c.Object.Conflicts {
		out = append(out, fmt.Sprintf("conflict: %s is owned by field manager %q", cf.Field, cf.Manager))
	}
	return out
}

// objectDetails is every line of an object change for one-line views (markdown cells, logs); quote
// wraps each field, e.g. in backticks.
func objectDetails(c plans.Change, quote string) []string {
	var out []string
	for _, f := range objectFields(c) {
		out = append(out, quote+f+quote)
	}
	for _, cf := range objectConflicts(c) {
		out = append(out, mdEscapeIf(quote, cf))
	}
	if c.Object.Sensitive && c.Action == plans.Create {
		out = append(out, "values "+sensitive)
	}
	if c.Reason != "" {
		out = append(out, mdEscapeIf(quote, c.Reason))
	}
	return out
}

func mdEscapeIf(quote, s string) string {
	if quote == "" {
		return s
	}
	return mdEscape(s)
}

func riskCell(c plans.Change) string {
	if c.Risk == plans.RiskNone {
		return ""
	}
	return "**" + c.Risk.Label() + "**"
}

// object prints one pending object change: headline, fields, conflicts, reason.
func (pw *printer) object(c plans.Change) {
	sym, col := objectSymbol(c)
	risk := ""
	if c.Risk != plans.RiskNone {
		risk = fmt.Sprintf("  %s[%s]%s", pw.c(ansiBold+ansiRed), c.Risk.Label(), pw.c(ansiReset))
	}
	pw.linef("  %s%s %s%s%s", pw.c(col+ansiBold), sym, plans.Headline(c), pw.c(ansiReset), risk)
	for _, f := range objectFields(c) {
		pw.linef("      %s", f)
	}
	if c.Object.Sensitive && c.Action == plans.Create {
		pw.linef("      values %s", sensitive)
	}
	for _, cf := range objectConflicts(c) {
		pw.linef("      %s%s%s", pw.c(ansiYellow), cf, pw.c(ansiReset))
	}
	if c.Reason != "" {
		pw.linef("      %s%s%s", pw.c(ansiDim), c.Reason, pw.c(ansiReset))
	}
}

// objectSummary adds the lines that say which object changes need an opt-in.
func (pw *printer) objectSummary(p plans.Plan, opts RenderOptions) {
	var conflicts, replaces int
	deletes := p.Deletes(plans.RemovesObject)
	for _, c := range p.Part(plans.PlaneKubernetes).Changes {
		if c.Object == nil || !c.Pending() {
			continue
		}
		if len(c.Object.Conflicts) > 0 {
			conflicts++
		}
		if c.Action == plans.Replace {
			replaces++
		}
	}
	line := func(n int, what, flag string, given bool) {
		if n == 0 {
			return
		}
		opt := "apply needs " + flag
		if given {
			opt = "allowed by " + flag
		}
		pw.linef("%s%d Kubernetes object(s) %s: %s.%s", pw.c(ansiBold+ansiYellow), n, what, opt, pw.c(ansiReset))
	}
	line(conflicts, "take fields another field manager owns", "--force-conflicts", opts.ForceConflicts)
	line(replaces, "are deleted (orphaning pods and volumes) and recreated", "--allow-replace", opts.AllowReplace)
	line(deletes, "left the render and are deleted", "--allow-delete", opts.AllowDelete)
}
