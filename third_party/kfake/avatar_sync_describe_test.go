package kfake

// avatar-sync patch tests for the fifth patch (PATCHES.md): a topic's
// DescribeConfigs built from a template (describe_topic_configs.go).

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// onLoop runs fn on the cluster's own goroutine, where its state may be read.
func onLoop(c *Cluster, fn func()) {
	done := make(chan struct{})
	c.adminCh <- func() { fn(); close(done) }
	<-done
}

// describeFixture is a cluster with a dynamic broker retention and three
// topics: all defaults, two topic configs (one overriding the broker's), and
// an internal one (kfake.is_internal has no default).
func describeFixture(t *testing.T) (*Cluster, *kgo.Client) {
	t.Helper()
	c, err := NewCluster(NumBrokers(1), BrokerConfigs(map[string]string{"log.retention.ms": "3600000"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	str := func(s string) *string { return &s }
	req := kmsg.NewPtrCreateTopicsRequest()
	for _, tc := range []struct {
		name string
		cfgs map[string]string
	}{
		{"plain", nil},
		{"tuned", map[string]string{"retention.ms": "60000", "cleanup.policy": "compact"}},
		{"internal", map[string]string{"kfake.is_internal": "true"}},
	} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = tc.name, 1, 1
		for k, v := range tc.cfgs {
			cfg := kmsg.NewCreateTopicsRequestTopicConfig()
			cfg.Name, cfg.Value = k, str(v)
			rt.Configs = append(rt.Configs, cfg)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			t.Fatalf("create %s: error %d", rt.Topic, rt.ErrorCode)
		}
	}
	return c, cl
}

// upstreamFold is upstream kfake's answer for a topic: data.configs folded
// as handleDescribeConfigs' rfn did before the patch (synonyms always).
func upstreamFold(c *Cluster, topic string) []kmsg.DescribeConfigsResponseResourceConfig {
	var out []kmsg.DescribeConfigsResponseResourceConfig
	at := map[string]int{}
	c.data.configs(topic, func(k string, v *string, src kmsg.ConfigSource, sensitive bool) {
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		rc.Name, rc.Value, rc.Source, rc.IsSensitive = k, v, src, sensitive
		rc.ReadOnly = src == kmsg.ConfigSourceStaticBrokerConfig
		rc.IsDefault = src == kmsg.ConfigSourceDefaultConfig || src == kmsg.ConfigSourceStaticBrokerConfig
		rc.ConfigType = configTypes[k]
		if i, ok := at[k]; ok {
			prior := out[i]
			syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			syn.Name, syn.Value, syn.Source = prior.Name, prior.Value, prior.Source
			rc.ConfigSynonyms = append([]kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{syn}, prior.ConfigSynonyms...)
			out[i] = rc
			return
		}
		at[k] = len(out)
		out = append(out, rc)
	})
	return out
}

// entry is a config as a client sees it once decoded.
type entry struct {
	value            string
	null             bool
	src              kmsg.ConfigSource
	readOnly, isDef  bool
	typ              kmsg.ConfigType
	synonyms, synSrc string
}

func entries(t *testing.T, cfgs []kmsg.DescribeConfigsResponseResourceConfig) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	for _, rc := range cfgs {
		if _, dup := out[rc.Name]; dup {
			t.Errorf("%s listed twice", rc.Name)
		}
		e := entry{null: rc.Value == nil, src: rc.Source, readOnly: rc.ReadOnly, isDef: rc.IsDefault, typ: rc.ConfigType}
		if rc.Value != nil {
			e.value = *rc.Value
		}
		for _, s := range rc.ConfigSynonyms {
			e.synonyms += s.Name + "="
			if s.Value != nil {
				e.synonyms += *s.Value
			}
			e.synonyms += ";"
			e.synSrc += s.Source.String() + ";"
		}
		out[rc.Name] = e
	}
	return out
}

func TestTopicConfigsAnswerAsUpstream(t *testing.T) {
	c, _ := describeFixture(t)
	for _, topic := range []string{"plain", "tuned", "internal"} {
		onLoop(c, func() {
			want := entries(t, upstreamFold(c, topic))
			for _, synonyms := range []bool{true, false} {
				var r kmsg.DescribeConfigsResponseResource
				c.topicTemplate(synonyms).fill(c, topic, &r)
				got := entries(t, r.Configs)
				if len(got) != len(want) {
					t.Errorf("%s (synonyms %v): %d configs, upstream %d", topic, synonyms, len(got), len(want))
				}
				for k, w := range want {
					if !synonyms {
						w.synonyms, w.synSrc = "", ""
					}
					if g, ok := got[k]; !ok || g != w {
						t.Errorf("%s (synonyms %v) %s: %+v, upstream %+v", topic, synonyms, k, g, w)
					}
				}
				if !slices.IsSortedFunc(r.Configs[:len(r.Configs)-boolInt(topic == "internal")], func(a, b kmsg.DescribeConfigsResponseResourceConfig) int {
					return cmpString(a.Name, b.Name)
				}) {
					t.Errorf("%s: configs not sorted by name", topic)
				}
			}
		})
	}
	// The fixture exercises each source: a default, the broker's value
	// under the topic's name, a topic override of both, a name with no
	// default.
	onLoop(c, func() {
		var r kmsg.DescribeConfigsResponseResource
		c.topicTemplate(true).fill(c, "tuned", &r)
		got := entries(t, r.Configs)
		if e := got["retention.ms"]; e.value != "60000" || e.src != kmsg.ConfigSourceDynamicTopicConfig ||
			e.synonyms != "retention.ms=3600000;retention.ms=604800000;" {
			t.Errorf("retention.ms of tuned: %+v", e)
		}
		c.topicTemplate(true).fill(c, "plain", &r)
		if e := entries(t, r.Configs)["retention.ms"]; e.value != "3600000" || e.src != kmsg.ConfigSourceDynamicBrokerConfig {
			t.Errorf("retention.ms of plain: %+v", e)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestDescribeConfigsSynonymsOnlyWhenAsked: over the wire, as Kafka answers,
// synonyms come only with IncludeSynonyms.
func TestDescribeConfigsSynonymsOnlyWhenAsked(t *testing.T) {
	_, cl := describeFixture(t)
	for _, include := range []bool{false, true} {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.IncludeSynonyms = include
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "tuned"
		req.Resources = append(req.Resources, rr)
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("answer: %+v", resp.Resources)
		}
		got := entries(t, resp.Resources[0].Configs)
		defs, _ := topicDefaults()
		if len(got) != len(defs) {
			t.Errorf("IncludeSynonyms %v: %d configs, want every one of the %d topic configs", include, len(got), len(defs))
		}
		e := got["retention.ms"]
		if e.value != "60000" || e.src != kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("IncludeSynonyms %v: retention.ms %+v", include, e)
		}
		if (e.synonyms != "") != include {
			t.Errorf("IncludeSynonyms %v: retention.ms synonyms %q", include, e.synonyms)
		}
	}
}

// TestTopicConfigsAllocateOnce: one allocation per topic without synonyms
// (the answer's slice), whatever the number of configs; upstream made a map
// and a copy of every default's value per topic.
func TestTopicConfigsAllocateOnce(t *testing.T) {
	c, _ := describeFixture(t)
	onLoop(c, func() {
		var r kmsg.DescribeConfigsResponseResource
		tt := c.topicTemplate(false)
		if n := testing.AllocsPerRun(100, func() { tt.fill(c, "tuned", &r) }); n > 1 {
			t.Errorf("topicConfigs allocated %v times per topic, want 1", n)
		}
	})
}
