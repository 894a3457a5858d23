package reconcile

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckAllowed(t *testing.T) {
	lower := Change{Kind: KindConfig, Name: "a", Action: Update, Risk: RiskDataLoss, Reason: "retention.ms lowered"}
	del := Change{Kind: KindTopic, Name: "old", Action: Delete, Risk: RiskDataLoss}
	shrink := Change{Kind: KindPartitions, Name: "b", Action: Unsupported, Risk: RiskUnsupported, Reason: "recreate it"}
	safe := Change{Kind: KindConfig, Name: "c", Action: Update}
	drift := Change{Kind: KindConfig, Name: "d", Action: NoOp, Risk: RiskDataLoss}
	tests := map[string]struct {
		changes []Change
		opts    ApplyOptions
		want    []string // substrings of the error; nil = allowed
	}{
		"safe change":                 {[]Change{safe, drift}, ApplyOptions{}, nil},
		"data loss needs opt-in":      {[]Change{lower}, ApplyOptions{}, []string{"update topic a config can lose data (retention.ms lowered): it needs --allow-data-loss"}},
		"data loss with opt-in":       {[]Change{lower}, ApplyOptions{AllowDataLoss: true}, nil},
		"delete needs --allow-delete": {[]Change{del}, ApplyOptions{AllowDataLoss: true}, []string{"delete topic old needs --allow-delete"}},
		"delete with opt-in":          {[]Change{del}, ApplyOptions{AllowDelete: true}, nil},
		"unsupported never":           {[]Change{shrink}, ApplyOptions{AllowDataLoss: true, AllowDelete: true, Force: true}, []string{"unsupported topic b partitions: recreate it"}},
		"every problem reported":      {[]Change{lower, del, shrink}, ApplyOptions{}, []string{"--allow-data-loss", "--allow-delete", "recreate it"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := CheckAllowed(Plan{Changes: tc.changes}, tc.opts)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("error %v is not ErrRefused", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestChangeRoundTripsToRequests(t *testing.T) {
	cc := configChange(Change{Name: "t", Before: map[string]string{"a": "1", "gone": "x"}, After: map[string]string{"a": "2", "new": "3"}})
	if cc.Topic != "t" || cc.Set["a"] != "2" || cc.Set["new"] != "3" || len(cc.Set) != 2 || len(cc.Delete) != 1 || cc.Delete[0] != "gone" {
		t.Errorf("configChange: %+v", cc)
	}
	top, err := topicFromChange(Change{Name: "t", After: map[string]string{"partitions": "3", "replication.factor": "2", "retention.ms": "1"}})
	if err != nil || top.Partitions != 3 || top.ReplicationFactor != 2 || top.Config["retention.ms"] != "1" || len(top.Config) != 1 {
		t.Errorf("topicFromChange: %+v %v", top, err)
	}
	if _, err := topicFromChange(Change{Name: "t", After: map[string]string{"partitions": "many"}}); err == nil {
		t.Error("bad partitions accepted")
	}
	r, err := reassignmentFromChange(Change{Name: "t", After: map[string]string{"replication.factor": "2", "partition.0": "1,2", "partition.1": "2,0"}})
	if err != nil || len(r.Replicas) != 2 || r.Replicas[1][0] != 2 || r.Replicas[1][1] != 0 {
		t.Errorf("reassignmentFromChange: %+v %v", r, err)
	}
	if _, err := reassignmentFromChange(Change{Name: "t", After: map[string]string{"replication.factor": "2"}}); err == nil {
		t.Error("reassignment without partitions accepted")
	}
}
