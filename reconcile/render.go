package reconcile

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// RenderOptions tune the text renderer.
type RenderOptions struct {
	// Color adds ANSI colours (cmd decides: a terminal, no --no-color, no NO_COLOR).
	Color bool
	// AllowDataLoss and AllowDelete are the opt-ins apply was given. The summary then says the
	// risky changes are allowed instead of telling the user to pass a flag they already passed.
	AllowDataLoss, AllowDelete bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiMagent = "\x1b[35m"
	ansiDim    = "\x1b[2m"
)

// symbol is the terraform-style marker of an action.
func symbol(a Action) (string, string) {
	switch a {
	case Create:
		return "+", ansiGreen
	case Update:
		return "~", ansiYellow
	case Delete:
		return "-", ansiRed
	case Unsupported:
		return "!", ansiMagent
	default:
		return "?", ansiDim
	}
}

// RenderText writes the plan for people: one block per change, risks in capitals, a summary line.
// It is what `plan` prints and what `apply` shows before asking.
func RenderText(w io.Writer, p Plan, opts RenderOptions) error {
	pw := &printer{w: w, color: opts.Color}
	pw.linef("%sPlan for cluster %q (cluster id %s)%s", pw.c(ansiBold), p.Cluster, orNone(p.ClusterID), pw.c(ansiReset))
	var pending, info []Change
	for _, c := range p.Changes {
		if c.Pending() {
			pending = append(pending, c)
		} else {
			info = append(info, c)
		}
	}
	if len(pending) > 0 {
		pw.linef("")
		pw.linef("avatar-sync will perform these actions (+ create, ~ update, - delete, ! unsupported):")
	}
	for _, c := range pending {
		pw.linef("")
		pw.change(c)
	}
	if len(info) > 0 {
		pw.linef("")
		pw.linef("Left alone (for your information):")
		for _, c := range info {
			pw.info(c)
		}
	}
	pw.linef("")
	s := p.Summary()
	if !p.HasChanges() {
		pw.linef("%sNo changes.%s Cluster %q (id %s) matches the spec.", pw.c(ansiBold+ansiGreen), pw.c(ansiReset), p.Cluster, orNone(p.ClusterID))
	} else {
		line := fmt.Sprintf("Plan: %d to create, %d to update, %d to delete.", s.Create, s.Update, s.Delete)
		if s.Unsupported > 0 {
			line += fmt.Sprintf(" %d unsupported (cannot be applied, see !).", s.Unsupported)
		}
		pw.linef("%s%s%s", pw.c(ansiBold), line, pw.c(ansiReset))
		if n := countRisk(p, RiskDataLoss) - s.Delete; n > 0 {
			opt := "apply needs --allow-data-loss"
			if opts.AllowDataLoss {
				opt = "allowed by --allow-data-loss"
			}
			pw.linef("%s%d change(s) can lose data: %s.%s", pw.c(ansiBold+ansiRed), n, opt, pw.c(ansiReset))
		}
		if s.Delete > 0 {
			opt := "apply needs --allow-delete"
			if opts.AllowDelete {
				opt = "allowed by --allow-delete"
			}
			pw.linef("%s%d topic(s) and their records will be deleted: %s.%s", pw.c(ansiBold+ansiRed), s.Delete, opt, pw.c(ansiReset))
		}
	}
	return pw.err
}

func countRisk(p Plan, r Risk) int {
	n := 0
	for _, c := range p.Changes {
		if c.Pending() && c.Risk == r {
			n++
		}
	}
	return n
}

func orNone(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

type printer struct {
	w     io.Writer
	color bool
	err   error
}

func (pw *printer) c(code string) string {
	if pw.color {
		return code
	}
	return ""
}

func (pw *printer) linef(format string, args ...any) {
	if pw.err != nil {
		return
	}
	_, pw.err = fmt.Fprintf(pw.w, format+"\n", args...)
}

// Headline is the one-line title of a change ("update topic x config"), shared by the renderers
// and by apply's progress lines.
func Headline(c Change) string {
	verb := c.Action.String()
	if c.Action == NoOp {
		verb = "keep"
	}
	switch c.Kind {
	case KindTopic:
		return fmt.Sprintf("%s topic %s", verb, c.Name)
	case KindCert:
		return fmt.Sprintf("%s certificate %s", verb, c.Name)
	default:
		return fmt.Sprintf("%s topic %s %s", verb, c.Name, c.Kind)
	}
}

func (pw *printer) change(c Change) {
	sym, col := symbol(c.Action)
	risk := ""
	if c.Risk != RiskNone {
		risk = fmt.Sprintf("  %s[%s]%s", pw.c(ansiBold+ansiRed), c.Risk.Label(), pw.c(ansiReset))
	}
	pw.linef("  %s%s %s%s%s", pw.c(col+ansiBold), sym, Headline(c), pw.c(ansiReset), risk)
	keys := orderedKeys(c)
	width := 0
	for _, k := range keys {
		width = max(width, len(k))
	}
	for _, k := range keys {
		b, inB := c.Before[k]
		a, inA := c.After[k]
		var val string
		switch {
		case c.Action == Create || (inA && !inB):
			val = human(k, a)
		case c.Action == Delete:
			val = human(k, b)
		case inB && !inA:
			val = human(k, b) + " → (removed)"
		default:
			val = arrow(k, b, a)
		}
		line := fmt.Sprintf("      %-*s  %s", width+1, k+":", val)
		if n := c.Notes[k]; n != "" {
			line += pw.c(ansiDim) + "  # " + n + pw.c(ansiReset)
		}
		pw.linef("%s", line)
	}
	if c.Reason != "" {
		pw.linef("      %s%s%s", pw.c(ansiDim), c.Reason, pw.c(ansiReset))
	}
}

func (pw *printer) info(c Change) {
	sym, col := symbol(c.Action)
	var kv []string
	for _, k := range orderedKeys(c) {
		kv = append(kv, k+"="+c.Before[k])
	}
	pw.linef("  %s%s %s%s: %s", pw.c(col), sym, Headline(c), pw.c(ansiReset), strings.Join(kv, ", "))
	pw.linef("      %s", c.Reason)
}

// orderedKeys lists a change's keys: partitions and replication factor first, then partition
// assignments by number, then configs alphabetically.
func orderedKeys(c Change) []string {
	set := map[string]bool{}
	for k := range c.Before {
		set[k] = true
	}
	for k := range c.After {
		set[k] = true
	}
	keys := slices.Collect(maps.Keys(set))
	rank := func(k string) (int, int) {
		switch {
		case k == KeyPartitions:
			return 0, 0
		case k == KeyReplicationFactor:
			return 1, 0
		case strings.HasPrefix(k, KeyPartitionPrefix):
			n, _ := strconv.Atoi(strings.TrimPrefix(k, KeyPartitionPrefix))
			return 2, n
		}
		return 3, 0
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, ni := rank(keys[i])
		rj, nj := rank(keys[j])
		if ri != rj {
			return ri < rj
		}
		if ni != nj {
			return ni < nj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// arrow renders "7d → 1h (604800000 → 3600000)" when the key has human units, else "a → b".
func arrow(key, before, after string) string {
	hb, okB := humanUnit(key, before)
	ha, okA := humanUnit(key, after)
	if before == "" {
		before = "(none)"
	}
	if okB && okA {
		return fmt.Sprintf("%s → %s (%s → %s)", hb, ha, before, after)
	}
	return before + " → " + after
}

// human renders a value with its human unit next to it: "3600000 (1h)".
func human(key, v string) string {
	if h, ok := humanUnit(key, v); ok {
		return fmt.Sprintf("%s (%s)", v, h)
	}
	return v
}

// humanUnit is spec.HumanTopicConfig, the one unit formatter (issue 9: plans printed "1000000B"
// where the spec reference says "1MB"); ok is false when the value has no unit to show.
func humanUnit(key, v string) (string, bool) {
	h := spec.HumanTopicConfig(key, v)
	return h, h != v
}

// FormatVersion is the version of the JSON plan schema (docs/plan-json.md). It changes only when a
// field is removed or its meaning changes; new fields are added without bumping it.
const FormatVersion = 1

// jsonPlan is the JSON document: the plan plus its version and summary.
type jsonPlan struct {
	FormatVersion int `json:"formatVersion"`
	Plan
	Summary    Summary `json:"summary"`
	HasChanges bool    `json:"hasChanges"`
}

// RenderJSON writes the plan as the versioned JSON document of docs/plan-json.md. Saved plan files
// (--out) are this document, so what a machine reads is what apply loads.
func RenderJSON(w io.Writer, p Plan) error {
	if p.Changes == nil {
		p.Changes = []Change{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonPlan{FormatVersion: FormatVersion, Plan: p, Summary: p.Summary(), HasChanges: p.HasChanges()})
}

// RenderMarkdown writes the plan for a pull-request comment: a summary, a table of changes and
// the details in a collapsible block.
func RenderMarkdown(w io.Writer, p Plan) error {
	pw := &printer{w: w}
	s := p.Summary()
	pw.linef("### avatar-sync plan: cluster `%s` (id `%s`)", p.Cluster, orNone(p.ClusterID))
	pw.linef("")
	if !p.HasChanges() {
		pw.linef("**No changes.** The cluster matches the spec.")
	} else {
		line := fmt.Sprintf("**Plan: %d to create, %d to update, %d to delete.**", s.Create, s.Update, s.Delete)
		if s.Unsupported > 0 {
			line += fmt.Sprintf(" **%d unsupported.**", s.Unsupported)
		}
		if n := countRisk(p, RiskDataLoss); n > 0 {
			line += fmt.Sprintf(" :warning: %d change(s) can lose data.", n)
		}
		pw.linef("%s", line)
	}
	if len(p.Changes) > 0 {
		pw.linef("")
		pw.linef("| | Change | Details | Risk |")
		pw.linef("|---|---|---|---|")
		for _, c := range p.Changes {
			sym, _ := symbol(c.Action)
			var details []string
			for _, k := range orderedKeys(c) {
				b, inB := c.Before[k]
				a, inA := c.After[k]
				switch {
				case c.Action == NoOp || c.Action == Delete:
					details = append(details, fmt.Sprintf("`%s=%s`", k, b))
				case c.Action == Create || (inA && !inB):
					details = append(details, fmt.Sprintf("`%s: %s`", k, human(k, a)))
				case inB && !inA:
					details = append(details, fmt.Sprintf("`%s` removed", k))
				default:
					details = append(details, fmt.Sprintf("`%s: %s`", k, arrow(k, b, a)))
				}
				if n := c.Notes[k]; n != "" {
					details[len(details)-1] += " _(" + mdEscape(n) + ")_"
				}
			}
			if c.Reason != "" && (c.Action == NoOp || c.Action == Unsupported || c.Risk != RiskNone) {
				details = append(details, mdEscape(c.Reason))
			}
			risk := ""
			if c.Risk != RiskNone {
				risk = "**" + c.Risk.Label() + "**"
			}
			pw.linef("| `%s` | %s | %s | %s |", sym, mdEscape(Headline(c)), strings.Join(details, "<br>"), risk)
		}
	}
	pw.linef("")
	pw.linef("<sub>Live state fingerprint `%s`.</sub>", p.Fingerprint)
	return pw.err
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// MarshalText is the status's JSON name: "not-attempted", "running", "applied", "failed".
func (s Status) MarshalText() ([]byte, error) {
	return []byte(strings.ReplaceAll(s.String(), " ", "-")), nil
}

// jsonChangeResult is one change of `apply -o json`.
type jsonChangeResult struct {
	Kind   Kind   `json:"kind"`
	Name   string `json:"name"`
	Action Action `json:"action"`
	Status Status `json:"status"`
	Error  string `json:"error,omitempty"`
}

// RenderResultJSON writes the document `apply -o json` prints (docs/plan-json.md, "apply -o json"):
// the plan, every pending change's status, the convergence proof and the error, if any.
func RenderResultJSON(w io.Writer, p Plan, res Result, applyErr error) error {
	doc := struct {
		FormatVersion int                `json:"formatVersion"`
		Plan          jsonPlan           `json:"plan"`
		ClusterID     string             `json:"clusterId"`
		Changes       []jsonChangeResult `json:"changes"`
		Applied       int                `json:"applied"`
		Failed        int                `json:"failed"`
		NotAttempted  int                `json:"notAttempted"`
		Verified      bool               `json:"verified"`
		Converged     bool               `json:"converged"`
		Residual      []Change           `json:"residual"`
		Error         string             `json:"error,omitempty"`
	}{FormatVersion: FormatVersion, Plan: jsonPlan{FormatVersion: FormatVersion, Plan: p, Summary: p.Summary(), HasChanges: p.HasChanges()},
		ClusterID: res.ClusterID, Changes: []jsonChangeResult{}, Residual: res.Residual,
		Applied: res.Count(Applied), Failed: res.Count(Failed), Verified: res.Verified, Converged: res.Converged()}
	if doc.Plan.Changes == nil {
		doc.Plan.Changes = []Change{}
	}
	if doc.Residual == nil {
		doc.Residual = []Change{}
	}
	if doc.ClusterID == "" {
		doc.ClusterID = p.ClusterID
	}
	// A refused apply returns no per-change results: every pending change was not attempted.
	results := res.Changes
	if len(results) == 0 {
		for _, c := range p.Changes {
			if c.Pending() {
				results = append(results, ChangeResult{Change: c})
			}
		}
	}
	for _, cr := range results {
		jc := jsonChangeResult{Kind: cr.Change.Kind, Name: cr.Change.Name, Action: cr.Change.Action, Status: cr.Status}
		if cr.Err != nil {
			jc.Error = cr.Err.Error()
		}
		if cr.Status == NotAttempted {
			doc.NotAttempted++
		}
		doc.Changes = append(doc.Changes, jc)
	}
	if applyErr != nil {
		doc.Error = applyErr.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
