package clusters

import (
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// kafkaType is the DescribeConfigs type Kafka reports for a spec config type.
func kafkaType(t spec.ConfigType) kmsg.ConfigType {
	switch t {
	case spec.ConfigBool:
		return kmsg.ConfigTypeBoolean
	case spec.ConfigInt, spec.ConfigIntBytes:
		return kmsg.ConfigTypeInt
	case spec.ConfigLong, spec.ConfigMs, spec.ConfigBytes:
		return kmsg.ConfigTypeLong
	case spec.ConfigDouble:
		return kmsg.ConfigTypeDouble
	case spec.ConfigEnumList, spec.ConfigReplicaList:
		return kmsg.ConfigTypeList
	default:
		return kmsg.ConfigTypeString
	}
}

// specStricter lists the bounds where avatar-sync refuses a value Kafka 3.9 accepts, and why.
var specStricter = map[string]string{
	"retention.bytes": "Kafka takes any long (below -1 acts as -1); the spec asks for -1 or more",
}

// TestTopicConfigTableAgreesWithEmbedded walks spec's table of Kafka 3.9 topic configs and the
// patched kfake together: the embedded cluster describes exactly those keys, with the spec's type
// and default (source DEFAULT_CONFIG); it accepts every value at the spec's bounds, each enum value
// and both booleans; and it refuses, with INVALID_CONFIG and Kafka's message, what lies beyond
// Kafka's bounds, an unknown enum or boolean, a bad version and an unknown key. The values go
// through CreateTopics with validateOnly, as kafka-topics.sh --validate-only sends them.
func TestTopicConfigTableAgreesWithEmbedded(t *testing.T) {
	ctx := testCtx(t)
	e, a := startTest(t)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "probe", Partitions: 1, ReplicationFactor: 1}}))
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "probe"
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("describe configs: %v %+v", err, resp)
	}
	described := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, c := range resp.Resources[0].Configs {
		described[c.Name] = c
	}

	table := spec.TopicConfigs()
	for _, def := range table {
		c, ok := described[def.Key]
		if !ok {
			t.Errorf("%s: not described by the embedded cluster", def.Key)
			continue
		}
		delete(described, def.Key)
		if c.ConfigType != kafkaType(def.Type) {
			t.Errorf("%s: type %v, spec says %v", def.Key, c.ConfigType, kafkaType(def.Type))
		}
		if c.Value == nil || *c.Value != def.Default || c.Source != kmsg.ConfigSourceDefaultConfig {
			t.Errorf("%s: default %v (source %v), spec says %q", def.Key, c.Value, c.Source, def.Default)
		}
	}
	for k := range described {
		t.Errorf("%s: described by the embedded cluster but not in spec's table", k)
	}

	validate := func(key, value string) (ok bool, msg string) {
		t.Helper()
		r, err := adm.ValidateCreateTopics(ctx, 1, 1, map[string]*string{key: &value}, "t-"+strings.ReplaceAll(key, ".", "-"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range r {
			if tr.Err != nil {
				return false, tr.Err.Error() + ": " + tr.ErrMessage
			}
		}
		return true, ""
	}
	accept := func(key, value string) {
		t.Helper()
		if ok, msg := validate(key, value); !ok {
			t.Errorf("%s=%s: refused (%s); the spec accepts it", key, value, msg)
		}
	}
	refuse := func(key, value, want string) {
		t.Helper()
		ok, msg := validate(key, value)
		if ok || !strings.Contains(msg, "INVALID_CONFIG") || !strings.Contains(msg, want) {
			t.Errorf("%s=%s: accepted=%v %q, want INVALID_CONFIG with %q", key, value, ok, msg, want)
		}
	}
	for _, def := range table {
		if def.Min != nil && def.Type != spec.ConfigDouble {
			min := int64(*def.Min)
			accept(def.Key, strconv.FormatInt(min, 10))
			if _, stricter := specStricter[def.Key]; !stricter {
				if len(def.Except) == 0 {
					refuse(def.Key, strconv.FormatInt(min-1, 10), "Invalid value "+strconv.FormatInt(min-1, 10)+" for configuration "+def.Key)
				}
			} else if def.Key == "retention.bytes" {
				accept(def.Key, "-5")
			}
		}
		if def.Max != nil && def.Type != spec.ConfigDouble {
			max := int64(*def.Max)
			accept(def.Key, strconv.FormatInt(max, 10))
			refuse(def.Key, strconv.FormatInt(max+1, 10), "for configuration "+def.Key)
		}
		for _, ex := range def.Except {
			refuse(def.Key, strconv.FormatInt(ex, 10), "Value must be between 1 and 9 or equal to -1")
		}
		switch def.Type {
		case spec.ConfigEnum:
			for _, v := range def.Enum {
				accept(def.Key, v)
			}
			refuse(def.Key, "bogus", "String must be one of: ")
		case spec.ConfigEnumList:
			accept(def.Key, strings.Join(def.Enum, ","))
			refuse(def.Key, "delete,bogus", "Invalid value bogus for configuration cleanup.policy: String must be one of: compact, delete")
		case spec.ConfigBool:
			if def.Unsupported("true") == "" {
				accept(def.Key, "true")
			} else {
				refuse(def.Key, "true", "Tiered Storage functionality is disabled in the broker")
			}
			accept(def.Key, "false")
			refuse(def.Key, "yes", "Expected value to be either true or false")
		case spec.ConfigDouble:
			accept(def.Key, "0")
			accept(def.Key, "1")
			refuse(def.Key, "1.5", "Value must be no more than 1")
		case spec.ConfigReplicaList:
			accept(def.Key, "0:1,1:2")
			accept(def.Key, "*")
			refuse(def.Key, "0-1", "must be the literal '*' or a list of replicas")
		case spec.ConfigInt, spec.ConfigIntBytes, spec.ConfigLong, spec.ConfigMs, spec.ConfigBytes:
			refuse(def.Key, "7d", "Not a number of type")
		}
	}
	accept("message.format.version", "2.8")
	refuse("message.format.version", "latest", "Version latest is not a valid version")
	refuse("retention.milliseconds", "1", "Unknown topic config name: retention.milliseconds")
}

// TestTopicDescribesBrokerDefaultsUnderItsOwnNames: a dynamic broker config that is a topic
// config's default (log.retention.ms for retention.ms) shows in a topic's DescribeConfigs under the
// topic config's name with the broker source, as Kafka shows it, not as an extra key.
func TestTopicDescribesBrokerDefaultsUnderItsOwnNames(t *testing.T) {
	ctx := testCtx(t)
	e, a := startTest(t)
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 1, ReplicationFactor: 1}}))
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	v := "3600000"
	if _, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: &v}}); err != nil {
		t.Fatal(err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "eeg")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("eeg", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == "log.retention.ms" {
			t.Errorf("topic eeg lists the broker key log.retention.ms")
		}
		if c.Key == "retention.ms" && (c.MaybeValue() != v || c.Source != kmsg.ConfigSourceDynamicBrokerConfig) {
			t.Errorf("retention.ms = %q from %v, want %s from the broker", c.MaybeValue(), c.Source, v)
		}
	}
}

// TestConfigsBeyondTheOldTenApply: topic configs the embedded cluster refused before issue 22 are
// created, read back and changed through avatar-sync's Admin; a value Kafka refuses comes back with
// Kafka's message.
func TestConfigsBeyondTheOldTenApply(t *testing.T) {
	ctx := testCtx(t)
	_, a := startTest(t)
	want := map[string]string{
		"unclean.leader.election.enable": "true",
		"max.compaction.lag.ms":          "86400000",
		"message.timestamp.after.max.ms": "3600000",
		"local.retention.ms":             "-2",
		"min.cleanable.dirty.ratio":      "0.3",
		"compression.zstd.level":         "9",
		"segment.jitter.ms":              "60000",
	}
	mustOK(t)(a.CreateTopics(ctx, []spec.Topic{{Name: "eeg", Partitions: 3, ReplicationFactor: 3, Config: want}}))
	mustOK(t)(a.AlterTopicConfigs(ctx, []reconcile.ConfigChange{{Topic: "eeg", Set: map[string]string{"message.timestamp.before.max.ms": "86400000"}}}))
	want["message.timestamp.before.max.ms"] = "86400000"
	live, err := a.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if got := live.Topics["eeg"].Config[k].Value; got != v {
			t.Errorf("%s read back as %q, want %q", k, got, v)
		}
	}
	out, err := a.AlterTopicConfigs(ctx, []reconcile.ConfigChange{{Topic: "eeg", Set: map[string]string{"segment.bytes": "13"}}})
	if err != nil {
		t.Fatal(err)
	}
	if e := out["eeg"]; e == nil || !strings.Contains(e.Error(), "Invalid value 13 for configuration segment.bytes: Value must be at least 14") {
		t.Errorf("segment.bytes 13: %v, want Kafka's message", e)
	}
}
