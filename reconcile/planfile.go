package reconcile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrStalePlan is matched by the error Apply returns when the live state changed after the plan
// was computed.
var ErrStalePlan = errors.New("stale plan")

// FormatVersion is the version of the plan document (docs/plan-json.md). It changes whenever the
// document changes; version 2 replaced the before/after string maps of version 1 by typed
// payloads and added the desired-state snapshot, the inventory count and the digest (issue 9);
// version 3 pins the Kubernetes manifests in the snapshot (desired.objects, Secret values only as
// salted fingerprints), salts every live-object digest and turns topicsDeferred into typed
// deferrals (issue 20).
const FormatVersion = 3

// MaxPlanBytes bounds what ReadPlan reads: a plan of 10,000 topics is a few MiB.
const MaxPlanBytes = 256 << 20

// PlanDocument is the plan as `plan -o json` prints it and `plan --out` saves it: the one JSON
// encoding of a plan (this file is the only place that writes or reads it).
type PlanDocument struct {
	FormatVersion int `json:"formatVersion"`
	// Digest is sha256 over the plan's content (changes, snapshot, fingerprint and the rest), so
	// an edited document is refused (issue 10). It is an integrity check, not a signature: apply
	// re-verifies every plan against the live state regardless (Verify).
	Digest string `json:"digest"`
	Plan
	Summary    Summary `json:"summary"`
	HasChanges bool    `json:"hasChanges"`
}

// Document wraps a plan for encoding, with its digest and summary.
func Document(p Plan) PlanDocument {
	p = normalized(p)
	return PlanDocument{FormatVersion: FormatVersion, Digest: Digest(p), Plan: p, Summary: p.Summary(), HasChanges: p.HasChanges()}
}

func normalized(p Plan) Plan {
	if p.Changes == nil {
		p.Changes = []Change{}
	}
	if p.Desired.Topics == nil {
		p.Desired.Topics = []DesiredTopic{}
	}
	return p
}

// Digest is the content hash of a plan as its document records it.
func Digest(p Plan) string {
	b, err := json.Marshal(normalized(p))
	if err != nil {
		// Every field of Plan marshals; an error here is a programming error.
		panic(fmt.Sprintf("marshal plan: %v", err))
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// WritePlan writes the plan document (indented JSON).
func WritePlan(w io.Writer, p Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Document(p))
}

// ReadPlan loads a plan saved with WritePlan (`plan --out FILE`). It refuses documents of another
// format version rather than guessing at their meaning, a document whose digest does not match
// (edited by hand), and changes whose payload does not match their kind: whatever Apply later
// executes was checked here, never halfway through an apply.
func ReadPlan(r io.Reader) (Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPlanBytes+1))
	if err != nil {
		return Plan{}, fmt.Errorf("read plan: %w", err)
	}
	if len(data) > MaxPlanBytes {
		return Plan{}, fmt.Errorf("read plan: larger than %d MiB; a plan file is never that large, is it the right file?", MaxPlanBytes>>20)
	}
	var head struct {
		FormatVersion *int `json:"formatVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Plan{}, fmt.Errorf("read plan: not a plan file (%w); create one with `avatar-sync plan --out FILE`", err)
	}
	if head.FormatVersion == nil {
		return Plan{}, fmt.Errorf("read plan: no formatVersion; create the file with `avatar-sync plan --out FILE`")
	}
	if *head.FormatVersion != FormatVersion {
		return Plan{}, fmt.Errorf("read plan: the file has formatVersion %d, this avatar-sync reads formatVersion %d only; run plan --out again with this version", *head.FormatVersion, FormatVersion)
	}
	var doc PlanDocument
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return Plan{}, fmt.Errorf("read plan: %w", err)
	}
	if doc.Fingerprint == "" && !(doc.TopicsDeferred() && doc.ObjectsFingerprint != "") {
		return Plan{}, fmt.Errorf("read plan: no fingerprint: a plan must record the live state it was computed against")
	}
	if doc.ObjectsFingerprint != "" && doc.Desired.Objects == nil {
		return Plan{}, fmt.Errorf("read plan: it has a Kubernetes side but no manifests (desired.objects) to apply; run plan --out again")
	}
	if o := doc.Desired.Objects; o != nil {
		// The document is indented; a manifest reads back as the compact JSON it was planned as.
		for i, m := range o.Manifests {
			var buf bytes.Buffer
			if err := json.Compact(&buf, m); err != nil {
				return Plan{}, fmt.Errorf("read plan: manifest %d: %w", i+1, err)
			}
			o.Manifests[i] = buf.Bytes()
		}
	}
	for i, c := range doc.Changes {
		if err := c.payloadErr(); err != nil {
			return Plan{}, fmt.Errorf("read plan: change %d: %w", i+1, err)
		}
	}
	if got := Digest(doc.Plan); got != doc.Digest {
		return Plan{}, fmt.Errorf("read plan: %w: the document was edited after plan saved it (digest %s, content %s); a plan file is applied exactly as reviewed or not at all: run plan --out again", ErrTampered, short(doc.Digest), short(got))
	}
	return doc.Plan, nil
}
