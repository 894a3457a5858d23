package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrStalePlan is matched by the error Apply returns when the live state changed after the plan
// was computed.
var ErrStalePlan = errors.New("stale plan")

// ReadPlan loads a plan saved with RenderJSON (`plan --out FILE`). It rejects documents of
// another format version rather than guessing at their meaning.
func ReadPlan(r io.Reader) (Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Plan{}, fmt.Errorf("read plan: %w", err)
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
		return Plan{}, fmt.Errorf("read plan: formatVersion %d is not supported by this avatar-sync (it reads %d); re-run plan with this version", *head.FormatVersion, FormatVersion)
	}
	var doc jsonPlan
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return Plan{}, fmt.Errorf("read plan: %w", err)
	}
	if doc.Fingerprint == "" {
		return Plan{}, fmt.Errorf("read plan: no fingerprint: a plan must record the live state it was computed against")
	}
	return doc.Plan, nil
}
