package health

import (
	"fmt"
	"sort"
	"time"
)

// ProbeHeader is the record header that marks every record `avatar-sync verify` produces; its
// value is the verify run's id (also the name of its consumer group). The lab's consumers skip
// records carrying it (docs/status.md, issue 13).
const ProbeHeader = "avatar-sync-probe"

// ProbeVersion is the version of the `verify -o json` document.
const ProbeVersion = 1

// ProbeResult is one partition's probe: produced at Offset, consumed back after RoundTrip.
type ProbeResult struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Offset is where the probe record was written (-1 when producing failed).
	Offset int64 `json:"offset"`
	// Produce is how long the produce took to be acknowledged (acks=all).
	Produce time.Duration `json:"produceNanos"`
	// RoundTrip is from the produce request to the record arriving at the probe's consumer
	// (0 with --produce-only).
	RoundTrip time.Duration `json:"roundTripNanos"`
	// Error is why the partition failed ("" = it passed).
	Error string `json:"error,omitempty"`
}

// ProbeReport is what `avatar-sync verify` reports.
type ProbeReport struct {
	Version     int    `json:"version"`
	Cluster     string `json:"cluster"`
	Group       string `json:"group,omitempty"` // the dedicated consumer group ("" with --produce-only)
	ProduceOnly bool   `json:"produceOnly"`
	OK          bool   `json:"ok"`
	// Failures name topic and partition, one line each.
	Failures []string      `json:"failures"`
	Results  []ProbeResult `json:"results"`
	// Topics sums Results per topic.
	Topics []ProbeTopic `json:"topics"`
	// GroupDeleted is false when the dedicated group could not be deleted afterwards (Failures
	// then says how to delete it by hand).
	GroupDeleted bool `json:"groupDeleted"`
}

// ProbeTopic is one topic's probe summary.
type ProbeTopic struct {
	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`
	Passed     int    `json:"passed"`
	// MaxRoundTrip and AvgRoundTrip are over the passed partitions (0 with --produce-only).
	MaxRoundTrip time.Duration `json:"maxRoundTripNanos"`
	AvgRoundTrip time.Duration `json:"avgRoundTripNanos"`
}

// Finish sorts the results and derives OK, Failures and the per-topic summary from them.
func (r ProbeReport) Finish() ProbeReport {
	sort.Slice(r.Results, func(i, j int) bool {
		if r.Results[i].Topic != r.Results[j].Topic {
			return r.Results[i].Topic < r.Results[j].Topic
		}
		return r.Results[i].Partition < r.Results[j].Partition
	})
	var failures []string
	for _, p := range r.Results {
		if p.Error != "" {
			if p.Partition < 0 {
				failures = append(failures, fmt.Sprintf("topic %q: %s", p.Topic, p.Error))
			} else {
				failures = append(failures, fmt.Sprintf("topic %q partition %d: %s", p.Topic, p.Partition, p.Error))
			}
		}
	}
	r.Failures = append(failures, r.Failures...)
	if r.Failures == nil {
		r.Failures = []string{}
	}
	r.OK = len(r.Failures) == 0
	r.Topics = []ProbeTopic{}
	for _, p := range r.Results {
		if n := len(r.Topics); n == 0 || r.Topics[n-1].Topic != p.Topic {
			r.Topics = append(r.Topics, ProbeTopic{Topic: p.Topic})
		}
		t := &r.Topics[len(r.Topics)-1]
		if p.Partition >= 0 {
			t.Partitions++
		}
		if p.Error == "" {
			t.Passed++
			t.MaxRoundTrip = max(t.MaxRoundTrip, p.RoundTrip)
			t.AvgRoundTrip += p.RoundTrip
		}
	}
	for i := range r.Topics {
		if r.Topics[i].Passed > 0 {
			r.Topics[i].AvgRoundTrip /= time.Duration(r.Topics[i].Passed)
		}
	}
	return r
}
