package plans

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTampered is matched by the error for a plan whose changes are not what its own desired-state
// snapshot gives against the live cluster (an edited plan file), or whose document digest does not
// match its content.
var ErrTampered = errors.New("plan does not verify")

// FormatVersion is the version of the plan document (docs/plan-json.md). It changes whenever the
// document changes; version 2 replaced the before/after string maps of version 1 by typed
// payloads and added the desired-state snapshot, the inventory count and the digest (issue 9);
// version 3 pinned the Kubernetes manifests in the snapshot (desired.objects, Secret values only as
// salted fingerprints), salted every live-object digest and turned topicsDeferred into typed
// deferrals; version 4 holds a fleet: one entry per target under "targets", a fleet summary, and
// one digest over the whole document (issue 20); version 5 holds each target's plan as one part per
// plane ("parts": plane, fingerprint, changes or deferral) in place of version 4's flat changes,
// fingerprint, objectsFingerprint and deferred fields (issue 20).
const FormatVersion = 5

// MaxPlanBytes bounds what ReadRun reads: a plan of 10,000 topics is a few MiB.
const MaxPlanBytes = 256 << 20

// RunDocument is the plan as `plan -o json` prints it and `plan --out` saves it: the one JSON
// encoding of a Run (this file is the only place that writes or reads it). A one-target plan is
// the same document with one target.
type RunDocument struct {
	FormatVersion int `json:"formatVersion"`
	// Digest is sha256 over the whole document with the digest itself left empty, so an edit of
	// any target (or of the order of targets) is refused (issue 10). It is an integrity check,
	// not a signature: apply re-verifies every target's plan against its live state regardless
	// (Verify).
	Digest  string           `json:"digest"`
	Targets []TargetDocument `json:"targets"`
	// Summary is the fleet's totals, HasChanges whether any target has a pending change.
	Summary    RunSummary `json:"summary"`
	HasChanges bool       `json:"hasChanges"`
}

// TargetDocument is one target of a RunDocument: its name and either its plan (with its own
// fingerprints and salts, its summary and whether it has changes) or the error that kept it from
// being planned. Only `plan -o json` shows a failed target; a saved plan never holds one.
type TargetDocument struct {
	Target string `json:"target"`
	Error  string `json:"error,omitempty"`
	// Plan is nil for a failed target; its fields are the target's own (cluster repeats target).
	*Plan
	Summary    *Summary `json:"summary,omitempty"`
	HasChanges bool     `json:"hasChanges"`
}

// DocumentOf encodes a Run, failed targets included (as their errors), with its digest. WriteRun
// is what saves one; a document with a failed target is for reading by people and tools only.
func DocumentOf(r Run) RunDocument {
	doc := RunDocument{FormatVersion: FormatVersion, Targets: []TargetDocument{}, Summary: r.Summary(), HasChanges: r.HasChanges()}
	for _, t := range r.Targets {
		td := TargetDocument{Target: targetName(t)}
		if t.Err != nil {
			td.Error = t.Err.Error()
		} else {
			p := normalized(t.Plan)
			if p.Cluster == "" {
				p.Cluster = td.Target
			}
			s := p.Summary()
			td.Plan, td.Summary, td.HasChanges = &p, &s, p.HasChanges()
		}
		doc.Targets = append(doc.Targets, td)
	}
	doc.Digest = doc.digest()
	return doc
}

func targetName(t TargetPlan) string {
	if t.Target != "" {
		return t.Target
	}
	return t.Plan.Cluster
}

func normalized(p Plan) Plan {
	parts := make([]Part, len(p.Parts))
	for i, pt := range p.Parts {
		if pt.Changes == nil {
			pt.Changes = []Change{}
		}
		parts[i] = pt
	}
	p.Parts = parts
	if p.Desired.Topics == nil {
		p.Desired.Topics = []DesiredTopic{}
	}
	return p
}

// digest is the content hash of the document as it records it: every field but the digest.
func (d RunDocument) digest() string {
	d.Digest = ""
	b, err := json.Marshal(d)
	if err != nil {
		// Every field of a RunDocument marshals; an error here is a programming error.
		panic(fmt.Sprintf("marshal plan document: %v", err))
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkTargets refuses what no plan document may hold: no target, a target without a name, a
// plan computed for another target, the same target twice.
func checkTargets(targets []TargetDocument) error {
	if len(targets) == 0 {
		return errors.New("no targets: a plan holds at least one")
	}
	seen := map[string]bool{}
	for i, t := range targets {
		switch {
		case t.Target == "":
			return fmt.Errorf("target %d has no name", i+1)
		case seen[t.Target]:
			return fmt.Errorf("target %q appears twice; plan each target once (--cluster a,b)", t.Target)
		case t.Plan != nil && t.Cluster != t.Target:
			return fmt.Errorf("target %q holds a plan computed for cluster target %q", t.Target, t.Cluster)
		}
		seen[t.Target] = true
	}
	return nil
}

// WriteRun writes the plan document (indented JSON) `plan --out` saves. It refuses a Run with a
// failed target, naming it: a saved plan covers every target it names, or it is not saved.
func WriteRun(w io.Writer, r Run) error {
	if failed := r.Failed(); len(failed) > 0 {
		return fmt.Errorf("write plan: target %q could not be planned (%w); a plan is saved only when every target was planned", targetName(failed[0]), failed[0].Err)
	}
	doc := DocumentOf(r)
	if err := checkTargets(doc.Targets); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// ReadRun loads a plan saved with WriteRun (`plan --out FILE`). It refuses documents of another
// format version rather than guessing at their meaning, a document whose digest does not match
// (edited by hand), a failed or duplicate target, and changes whose payload does not match their
// kind: whatever Apply later executes was checked here, never halfway through an apply.
func ReadRun(r io.Reader) (Run, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPlanBytes+1))
	if err != nil {
		return Run{}, fmt.Errorf("read plan: %w", err)
	}
	if len(data) > MaxPlanBytes {
		return Run{}, fmt.Errorf("read plan: larger than %d MiB; a plan file is never that large, is it the right file?", MaxPlanBytes>>20)
	}
	var head struct {
		FormatVersion *int `json:"formatVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Run{}, fmt.Errorf("read plan: not a plan file (%w); create one with `avatar-sync plan --out FILE`", err)
	}
	if head.FormatVersion == nil {
		return Run{}, fmt.Errorf("read plan: no formatVersion; create the file with `avatar-sync plan --out FILE`")
	}
	if *head.FormatVersion != FormatVersion {
		return Run{}, fmt.Errorf("read plan: the file has formatVersion %d, this avatar-sync reads formatVersion %d only; run plan --out again with this version", *head.FormatVersion, FormatVersion)
	}
	var doc RunDocument
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return Run{}, fmt.Errorf("read plan: %w", err)
	}
	if err := checkTargets(doc.Targets); err != nil {
		return Run{}, fmt.Errorf("read plan: %w", err)
	}
	run := Run{Targets: make([]TargetPlan, 0, len(doc.Targets))}
	for _, t := range doc.Targets {
		if err := checkTarget(t); err != nil {
			return Run{}, fmt.Errorf("read plan: target %q: %w", t.Target, err)
		}
		run.Targets = append(run.Targets, TargetPlan{Target: t.Target, Plan: *t.Plan})
	}
	if got := doc.digest(); got != doc.Digest {
		return Run{}, fmt.Errorf("read plan: %w: the document was edited after plan saved it (digest %s, content %s); a plan file is applied exactly as reviewed or not at all: run plan --out again", ErrTampered, ShortDigest(doc.Digest), ShortDigest(got))
	}
	return run, nil
}

// checkTarget is what ReadRun checks of each target: a plan and no error, the fingerprints it is
// verified against, its manifests (compacted in place, as they were planned) and every change's
// payload.
func checkTarget(t TargetDocument) error {
	if t.Error != "" {
		return fmt.Errorf("it failed when planned (%s); a plan with a failed target is never saved: run plan --out again once every target answers", t.Error)
	}
	if t.Plan == nil {
		return errors.New("no plan")
	}
	if err := checkParts(*t.Plan); err != nil {
		return err
	}
	if o := t.Desired.Objects; o != nil {
		// The document is indented; a manifest reads back as the compact JSON it was planned as.
		for i, m := range o.Manifests {
			var buf bytes.Buffer
			if err := json.Compact(&buf, m); err != nil {
				return fmt.Errorf("manifest %d: %w", i+1, err)
			}
			o.Manifests[i] = buf.Bytes()
		}
	}
	return nil
}

// checkParts is what ReadRun checks of a plan's parts: at least one, a plane once, a planned part
// with the fingerprint it is verified against (and, for the Kubernetes plane, the manifests it
// applies), a deferred part with neither fingerprint nor changes, and every change of its part's
// plane with its kind's payload.
func checkParts(p Plan) error {
	if len(p.Parts) == 0 {
		return errors.New("no parts: a plan holds one part per plane of its target")
	}
	seen := map[PlaneID]bool{}
	planned := false
	for _, pt := range p.Parts {
		switch {
		case seen[pt.Plane]:
			return fmt.Errorf("the %s plane has two parts; a plan holds one part per plane", pt.Plane)
		case pt.Deferral != nil && (pt.Fingerprint != "" || len(pt.Changes) > 0):
			return fmt.Errorf("its %s part is deferred (not planned), yet it has a fingerprint or changes", pt.Plane)
		case pt.Deferral == nil && pt.Fingerprint == "":
			return fmt.Errorf("its %s part has no fingerprint: a plan must record the live state each plane was computed against", pt.Plane)
		case pt.Deferral == nil && pt.Plane == PlaneKubernetes && p.Desired.Objects == nil:
			return errors.New("it has a Kubernetes side but no manifests (desired.objects) to apply; run plan --out again")
		}
		seen[pt.Plane] = true
		planned = planned || pt.Deferral == nil
		for i, c := range pt.Changes {
			if err := c.PayloadErr(); err != nil {
				return fmt.Errorf("%s part: change %d: %w", pt.Plane, i+1, err)
			}
			if k := c.Kind.Plane(); k != pt.Plane {
				return fmt.Errorf("%s part: change %d (%s) belongs to the %s plane", pt.Plane, i+1, Headline(c), k)
			}
		}
	}
	if !planned {
		return errors.New("every part is deferred: nothing was planned; run plan --out again once a plane answers")
	}
	return nil
}

// ShortDigest is a fingerprint or digest cut to its first 19 characters ("sha256:" and 12 hex
// digits), as errors quote them.
func ShortDigest(fp string) string {
	if len(fp) > 19 {
		return fp[:19]
	}
	return fp
}
