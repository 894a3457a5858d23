// Package report holds avatar-sync's views: the text, JSON and markdown renderings of a plan and
// of an apply result (issue 9: views in one place). Renderers are pure functions to an io.Writer.
package report

import (
	"fmt"
	"io"
	"maps"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// RenderOptions tune the text renderer.
type RenderOptions struct {
	// Color adds ANSI colours (cmd decides: a terminal, no --no-color, no NO_COLOR).
	Color bool
	// AllowDataLoss and AllowDelete are the opt-ins apply was given. The summary then says the
	// risky changes are allowed instead of telling the user to pass a flag they already passed.
	AllowDataLoss, AllowDelete bool
	// ForceConflicts and AllowReplace are the Kubernetes plane's opt-ins (issue 11).
	ForceConflicts, AllowReplace bool
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
func symbol(a plans.Action) (string, string) {
	switch a {
	case plans.Create:
		return "+", ansiGreen
	case plans.Update:
		return "~", ansiYellow
	case plans.Delete:
		return "-", ansiRed
	case plans.Unsupported, plans.Replace:
		// Replace shares "!" with unsupported (neither happens without the user doing
		// something); the headline says which.
		return "!", ansiMagent
	default:
		return "?", ansiDim
	}
}

// RenderText writes the plan for people: one block per change, risks in capitals, a summary line.
// It is what `plan` prints and what `apply` shows before asking.
func RenderText(w io.Writer, p plans.Plan, opts RenderOptions) error {
	pw := &printer{w: w, color: opts.Color}
	pw.linef("%sPlan for cluster %q (%s)%s", pw.c(ansiBold), p.Cluster, clusterIDText(p.ClusterID, "cluster id %s"), pw.c(ansiReset))
	pw.planText(p, opts)
	return pw.err
}

// planText is a plan's text below its header: the changes, what is left alone, the advisories
// and the summary with the opt-ins it needs.
func (pw *printer) planText(p plans.Plan, opts RenderOptions) {
	var pending, info []plans.Change
	for c := range p.EachChange() {
		if c.Pending() {
			pending = append(pending, c)
		} else {
			info = append(info, c)
		}
	}
	if len(pending) > 0 {
		legend := "! unsupported"
		if p.Summary().Replace > 0 {
			legend = "! replace or unsupported"
		}
		pw.linef("")
		pw.linef("avatar-sync will perform these actions (+ create, ~ update, - delete, %s):", legend)
	}
	for _, c := range pending {
		pw.linef("")
		if c.Object != nil {
			pw.object(c)
			continue
		}
		pw.change(c)
	}
	if len(info) > 0 {
		pw.linef("")
		pw.linef("Left alone (for your information):")
		for _, c := range info {
			if c.Object != nil {
				pw.linef("  %s? %s%s", pw.c(ansiDim), plans.Headline(c), pw.c(ansiReset))
				pw.linef("      %s", c.Reason)
				continue
			}
			pw.info(c)
		}
	}
	if len(p.Advisories) > 0 {
		pw.linef("")
		pw.linef("Advisories (not changes: apply does not act on them):")
		for _, a := range p.Advisories {
			pw.linef("  %s* %s%s: %s", pw.c(ansiYellow), a.Subject, pw.c(ansiReset), a.Reason)
		}
	}
	pw.linef("")
	s := p.Summary()
	switch {
	case !p.HasChanges() && p.TopicsDeferred():
		pw.linef("%sNo Kubernetes changes.%s The topics of cluster %q are not part of this plan: its brokers were not answering when it was made.", pw.c(ansiBold), pw.c(ansiReset), p.Cluster)
	case !p.HasChanges():
		pw.linef("%sNo changes.%s Cluster %q (id %s) matches the spec.", pw.c(ansiBold+ansiGreen), pw.c(ansiReset), p.Cluster, orNone(p.ClusterID))
	default:
		line := summaryLine(s)
		if s.Unsupported > 0 {
			line += fmt.Sprintf(" %d unsupported (cannot be applied, see !).", s.Unsupported)
		}
		pw.linef("%s%s%s", pw.c(ansiBold), line, pw.c(ansiReset))
		n := countRisks(p)
		if n.dataLoss > 0 {
			opt := "apply needs --allow-data-loss"
			if opts.AllowDataLoss {
				opt = "allowed by --allow-data-loss"
			}
			pw.linef("%s%d change(s) can lose data: %s.%s", pw.c(ansiBold+ansiRed), n.dataLoss, opt, pw.c(ansiReset))
		}
		opt := "apply needs --allow-delete"
		if opts.AllowDelete {
			opt = "allowed by --allow-delete"
		}
		if n.topicDeletes > 0 {
			pw.linef("%s%d topic(s) and their records will be deleted: %s.%s", pw.c(ansiBold+ansiRed), n.topicDeletes, opt, pw.c(ansiReset))
		}
		if n.accessDeletes > 0 {
			pw.linef("%s%d ACL(s), credential(s) or quota(s) will be removed: %s.%s", pw.c(ansiBold+ansiRed), n.accessDeletes, opt, pw.c(ansiReset))
		}
		pw.objectSummary(p, opts)
	}
}

// summaryLine is "Plan: 1 to create, 2 to update, 0 to delete."; replaces (Kubernetes objects,
// issue 11) and adoptions into the inventory (issue 21: not updates, nothing on the cluster
// changes) are counted only when the plan has some.
func summaryLine(s plans.Summary) string { return "Plan: " + counts(s) + "." }

// counts is "1 to create, 2 to update, 0 to delete", with replaces and adoptions when there are
// some.
func counts(s plans.Summary) string {
	line := fmt.Sprintf("%d to create, %d to update, ", s.Create, s.Update)
	if s.Replace > 0 {
		line += fmt.Sprintf("%d to replace, ", s.Replace)
	}
	if s.Adopt > 0 {
		line += fmt.Sprintf("%d to adopt, ", s.Adopt)
	}
	return line + fmt.Sprintf("%d to delete", s.Delete)
}

// riskCounts is the one count of a plan's risky changes that every view prints (issue 20: deletions
// were counted three ways, and a plan that lowered a retention and deleted an ACL lost its
// "apply needs --allow-data-loss" line).
type riskCounts struct {
	// dataLoss counts pending changes that can destroy records and need --allow-data-loss; a
	// deletion has its own opt-in (--allow-delete) and is counted by what it deletes instead.
	dataLoss                    int
	topicDeletes, accessDeletes int
}

func countRisks(p plans.Plan) riskCounts {
	n := riskCounts{topicDeletes: p.Deletes(plans.RemovesRecords), accessDeletes: p.Deletes(plans.RemovesAccess)}
	for c := range p.EachChange() {
		if c.Pending() && c.Action != plans.Delete && c.Risk == plans.RiskDataLoss {
			n.dataLoss++
		}
	}
	return n
}

// clusterIDText names the live cluster id in a plan's header, as format says ("cluster id %s"). A plan without one was made while the brokers did not answer (a fresh cluster whose
// topics are deferred): the header says so instead of "id (unknown)" (issue 21).
func clusterIDText(id, format string) string {
	if id == "" {
		return "cluster id not read: the brokers did not answer when this plan was made"
	}
	return fmt.Sprintf(format, id)
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

// line writes one line as it is (linef's format is parsed for every call: 30,000 times for a plan
// of 10,000 changes).
func (pw *printer) line(s string) {
	if pw.err != nil {
		return
	}
	_, pw.err = io.WriteString(pw.w, s+"\n")
}

func (pw *printer) linef(format string, args ...any) {
	if pw.err != nil {
		return
	}
	_, pw.err = fmt.Fprintf(pw.w, format+"\n", args...)
}

func (pw *printer) change(c plans.Change) {
	sym, col := symbol(c.Action)
	risk := ""
	if c.Risk != plans.RiskNone {
		risk = fmt.Sprintf("  %s[%s]%s", pw.c(ansiBold+ansiRed), c.Risk.Label(), pw.c(ansiReset))
	}
	pw.line("  " + pw.c(col+ansiBold) + sym + " " + plans.Headline(c) + pw.c(ansiReset) + risk)
	before, after := Fields(c)
	keys := orderedKeys(before, after)
	width := 0
	for _, k := range keys {
		width = max(width, len(k))
	}
	for _, k := range keys {
		b, inB := before[k]
		a, inA := after[k]
		var val string
		switch {
		case c.Action == plans.Create || (inA && !inB):
			val = human(k, a)
		case c.Action == plans.Delete:
			val = human(k, b)
		case inB && !inA:
			val = human(k, b) + " → (removed)"
		default:
			val = arrow(k, b, a)
		}
		line := "      " + k + ":" + strings.Repeat(" ", max(0, width-utf8.RuneCountInString(k))) + "  " + val
		if n := c.Notes[k]; n != "" {
			line += pw.c(ansiDim) + "  # " + n + pw.c(ansiReset)
		}
		pw.line(line)
	}
	if c.Reason != "" {
		pw.line("      " + pw.c(ansiDim) + c.Reason + pw.c(ansiReset))
	}
}

func (pw *printer) info(c plans.Change) {
	sym, col := symbol(c.Action)
	var kv []string
	before, after := Fields(c)
	for _, k := range orderedKeys(before, after) {
		kv = append(kv, k+"="+before[k])
	}
	if len(kv) == 0 {
		// An ACL's headline is the whole binding.
		pw.linef("  %s%s %s%s", pw.c(col), sym, plans.Headline(c), pw.c(ansiReset))
	} else {
		pw.linef("  %s%s %s%s: %s", pw.c(col), sym, plans.Headline(c), pw.c(ansiReset), strings.Join(kv, ", "))
	}
	pw.linef("      %s", c.Reason)
}

// Keys of the flattened form of a change (Fields) besides topic config names, which never contain
// these.
const (
	KeyPartitions        = "partitions"
	KeyReplicationFactor = "replication.factor"
	// KeyPartitionPrefix + partition id holds a replica list "1,2,3" (leader first).
	KeyPartitionPrefix = "partition."
)

// Fields flattens a change's typed payload into before/after values by key, the form every view
// prints: a key only in before is removed, only in after is added.
func Fields(c plans.Change) (before, after map[string]string) {
	before, after = map[string]string{}, map[string]string{}
	switch {
	case c.Topic != nil:
		m := after
		if c.Action != plans.Create && c.Action != plans.Unsupported {
			m = before
		}
		m[KeyPartitions] = strconv.Itoa(c.Topic.Partitions)
		m[KeyReplicationFactor] = strconv.Itoa(c.Topic.ReplicationFactor)
		maps.Copy(m, c.Topic.Configs)
	case c.Partitions != nil:
		before[KeyPartitions] = strconv.Itoa(c.Partitions.From)
		after[KeyPartitions] = strconv.Itoa(c.Partitions.To)
	case c.Replication != nil:
		before[KeyReplicationFactor] = strconv.Itoa(c.Replication.From)
		after[KeyReplicationFactor] = strconv.Itoa(c.Replication.To)
		for p, m := range c.Replication.Partitions {
			key := KeyPartitionPrefix + strconv.Itoa(int(p))
			after[key] = joinIDs(m.After)
			if len(m.Before) > 0 {
				before[key] = joinIDs(m.Before)
			}
		}
	case c.Config != nil:
		for k, e := range c.Config.Keys {
			switch {
			case c.Action == plans.NoOp:
				before[k], after[k] = e.Before, e.Before
			case e.Delete:
				before[k] = e.Before
			default:
				if e.Before != "" {
					before[k] = e.Before
				}
				after[k] = e.After
			}
		}
	case c.ACL != nil || c.User != nil || c.Quota != nil:
		accessFields(c, before, after)
	}
	return before, after
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

// Detail is what a change does to each key on one line, "retention.ms: 86400000 → 172800000", so
// a daemon's log says what it changed, not only which topic. Replica lists are left out: the
// replication factor says enough for a log.
func Detail(c plans.Change) string {
	if c.Object != nil {
		return strings.Join(objectDetails(c, ""), ", ")
	}
	before, after := Fields(c)
	var parts []string
	for _, k := range orderedKeys(before, after) {
		if strings.HasPrefix(k, KeyPartitionPrefix) {
			continue
		}
		b, inB := before[k]
		a, inA := after[k]
		switch {
		case !inB:
			parts = append(parts, fmt.Sprintf("%s: %s", k, a))
		case !inA:
			parts = append(parts, fmt.Sprintf("%s: %s → (removed)", k, b))
		default:
			parts = append(parts, fmt.Sprintf("%s: %s → %s", k, b, a))
		}
	}
	return strings.Join(parts, ", ")
}

// orderedKeys lists a change's keys: partitions and replication factor first, then partition
// assignments by number, then configs alphabetically.
func orderedKeys(before, after map[string]string) []string {
	keys := make([]string, 0, len(before)+len(after))
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, dup := before[k]; !dup {
			keys = append(keys, k)
		}
	}
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
	if len(keys) < 2 {
		return keys
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
		return hb + " → " + ha + " (" + before + " → " + after + ")"
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

// RenderMarkdown writes the plan for a pull-request comment: a summary, a table of changes and
// the details in a collapsible block.
func RenderMarkdown(w io.Writer, p plans.Plan) error {
	pw := &printer{w: w}
	pw.linef("### avatar-sync plan: cluster `%s` (%s)", p.Cluster, clusterIDText(p.ClusterID, "id `%s`"))
	pw.linef("")
	pw.planMarkdown(p)
	return pw.err
}

// planMarkdown is a plan's markdown below its heading: the summary, the table of changes, the
// advisories and the fingerprints.
func (pw *printer) planMarkdown(p plans.Plan) {
	s := p.Summary()
	switch {
	case !p.HasChanges() && p.TopicsDeferred():
		pw.linef("**No Kubernetes changes.** The topics are not part of this plan: its brokers were not answering when it was made.")
	case !p.HasChanges():
		pw.linef("**No changes.** The cluster matches the spec.")
	default:
		line := "**" + summaryLine(s) + "**"
		if s.Unsupported > 0 {
			line += fmt.Sprintf(" **%d unsupported.**", s.Unsupported)
		}
		// A deleted topic loses its records too.
		if n := countRisks(p); n.dataLoss+n.topicDeletes > 0 {
			line += fmt.Sprintf(" :warning: %d change(s) can lose data.", n.dataLoss+n.topicDeletes)
		}
		pw.linef("%s", line)
	}
	if all := p.AllChanges(); len(all) > 0 {
		pw.linef("")
		pw.linef("| | Change | Details | Risk |")
		pw.linef("|---|---|---|---|")
		for _, c := range all {
			sym, _ := symbol(c.Action)
			if c.Object != nil {
				sym, _ = objectSymbol(c)
				pw.linef("| `%s` | %s | %s | %s |", sym, mdEscape(plans.Headline(c)), strings.Join(objectDetails(c, "`"), "<br>"), riskCell(c))
				continue
			}
			var details []string
			before, after := Fields(c)
			for _, k := range orderedKeys(before, after) {
				b, inB := before[k]
				a, inA := after[k]
				switch {
				case c.Action == plans.NoOp || c.Action == plans.Delete:
					details = append(details, fmt.Sprintf("`%s=%s`", k, b))
				case c.Action == plans.Create || (inA && !inB):
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
			if c.Reason != "" && (c.Action == plans.NoOp || c.Action == plans.Unsupported || c.Risk != plans.RiskNone) {
				details = append(details, mdEscape(c.Reason))
			}
			risk := ""
			if c.Risk != plans.RiskNone {
				risk = "**" + c.Risk.Label() + "**"
			}
			pw.linef("| `%s` | %s | %s | %s |", sym, mdEscape(plans.Headline(c)), strings.Join(details, "<br>"), risk)
		}
	}
	if len(p.Advisories) > 0 {
		pw.linef("")
		pw.linef("**Advisories** (not changes: apply does not act on them):")
		pw.linef("")
		for _, a := range p.Advisories {
			pw.linef("- %s: %s", mdEscape(a.Subject), mdEscape(a.Reason))
		}
	}
	pw.linef("")
	var fps []string
	for _, pt := range p.Parts {
		if pt.Deferral != nil {
			fps = append(fps, pt.Plane.String()+" not read (deferred)")
		} else {
			fps = append(fps, fmt.Sprintf("%s `%s`", pt.Plane, pt.Fingerprint))
		}
	}
	pw.linef("<sub>Live state fingerprints: %s.</sub>", strings.Join(fps, ", "))
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
