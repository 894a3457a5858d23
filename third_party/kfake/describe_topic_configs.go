package kfake

import (
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// avatar-sync patch (issue 23): a topic's DescribeConfigs answer built from
// a template made once. Upstream walked every default config (a map of
// broker and topic keys) per topic, copied each value to the heap and kept a
// map of names per topic to fold a later source into an earlier entry: at
// 100,000 topics that was most of a Describe's CPU and most of its garbage.

// topicDefault is one topic config at its default, as a topic answers it.
type topicDefault struct {
	name  string
	value *string // shared by every answer; responses are only encoded
	typ   kmsg.ConfigType
}

// topicDefaults is every topic config kfake knows with its default, sorted by
// name, and the position of each name; configDefaults is complete once the
// package's init functions ran and never changes after.
var topicDefaults = sync.OnceValues(func() ([]topicDefault, map[string]int) {
	var defs []topicDefault
	for k, v := range configDefaults {
		if _, ok := validTopicConfigs[k]; ok {
			defs = append(defs, topicDefault{name: k, value: &v, typ: configTypes[k]})
		}
	}
	slices.SortFunc(defs, func(a, b topicDefault) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	idx := make(map[string]int, len(defs))
	for i, d := range defs {
		idx[d.name] = i
	}
	return defs, idx
})

// topicTemplate is every topic's answer before its own configs: every
// default, then the dynamic broker configs under the topic config's name (a
// later source replaces the entry and, when synonyms are asked for, pushes
// the one it replaced to the front of its synonyms), as data.configs and
// handleDescribeConfigs' fold gave it. Made once per request: the broker
// configs do not change within one.
type topicTemplate struct {
	configs  []kmsg.DescribeConfigsResponseResourceConfig
	synonyms bool
}

// topicTemplate: Kafka lists synonyms only when the request's
// IncludeSynonyms is set (upstream always listed them).
func (c *Cluster) topicTemplate(synonyms bool) topicTemplate {
	defs, _ := topicDefaults()
	tt := topicTemplate{configs: make([]kmsg.DescribeConfigsResponseResourceConfig, len(defs)), synonyms: synonyms}
	for i, d := range defs {
		tt.configs[i] = kmsg.DescribeConfigsResponseResourceConfig{
			Name:       d.name,
			Value:      d.value,
			IsDefault:  true,
			Source:     kmsg.ConfigSourceDefaultConfig,
			ConfigType: d.typ,
		}
	}
	for k, v := range c.bcfgs {
		if topicEquiv, ok := validBrokerConfigs[k]; ok && topicEquiv != "" {
			tt.configs = tt.set(tt.configs, topicEquiv, v, kmsg.ConfigSourceDynamicBrokerConfig)
		}
	}
	return tt
}

// set gives k the value v from src in configs, returning configs.
func (tt topicTemplate) set(configs []kmsg.DescribeConfigsResponseResourceConfig, k string, v *string, src kmsg.ConfigSource) []kmsg.DescribeConfigsResponseResourceConfig {
	defs, idx := topicDefaults()
	rc := kmsg.DescribeConfigsResponseResourceConfig{Name: k, Value: v, Source: src, ConfigType: configTypes[k]}
	i, ok := idx[k]
	if !ok {
		// A name without a default (kfake.is_internal): after the
		// defaults, once.
		i = slices.IndexFunc(configs[len(defs):], func(rc kmsg.DescribeConfigsResponseResourceConfig) bool { return rc.Name == k })
		if i < 0 {
			return append(configs, rc)
		}
		i += len(defs)
	}
	if tt.synonyms {
		prior := configs[i]
		syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
		syn.Name, syn.Value, syn.Source = prior.Name, prior.Value, prior.Source
		rc.ConfigSynonyms = append([]kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{syn}, prior.ConfigSynonyms...)
	}
	configs[i] = rc
	return configs
}

// fill sets r's configs to topic t's: the template, then its own configs.
func (tt topicTemplate) fill(c *Cluster, t string, r *kmsg.DescribeConfigsResponseResource) {
	tcfgs := c.data.tcfgs[t]
	r.Configs = append(make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(tt.configs)+len(tcfgs)), tt.configs...)
	for k, v := range tcfgs {
		r.Configs = tt.set(r.Configs, k, v, kmsg.ConfigSourceDynamicTopicConfig)
	}
}
