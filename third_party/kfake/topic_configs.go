package kfake

// avatar-sync patch (third_party/kfake/PATCHES.md, "Kafka 3.9's topic
// configs"): every topic config of Kafka 3.9 with its type, default and
// validator, from Kafka's LogConfig (storage/.../log/LogConfig.java),
// TopicConfig and ServerLogConfigs at 3.9.0. CreateTopics, AlterConfigs and
// IncrementalAlterConfigs refuse an unknown name or an invalid value with
// INVALID_CONFIG and Kafka's message; DescribeConfigs reports the defaults.

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type topicConfigDef struct {
	typ kmsg.ConfigType
	def string
	// synonym is the broker config whose value is the topic's default.
	synonym string
	// check validates a value that parsed as typ; it returns Kafka's
	// validator message, or "".
	check func(v string) string
}

const maxLongStr = "9223372036854775807"

func atLeast(min int64) func(string) string {
	return func(v string) string {
		if n, _ := strconv.ParseInt(v, 10, 64); n < min {
			return fmt.Sprintf("Value must be at least %d", min)
		}
		return ""
	}
}

func inStrings(valid ...string) func(string) string {
	return func(v string) string {
		for _, s := range valid {
			if v == s {
				return ""
			}
		}
		return "String must be one of: " + strings.Join(valid, ", ")
	}
}

func levelBetween(min, max, def int64) func(string) string {
	return func(v string) string {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n > max || (n < min && n != def) {
			return fmt.Sprintf("Value must be between %d and %d or equal to %d", min, max, def)
		}
		return ""
	}
}

func between(min, max int64) func(string) string {
	return func(v string) string {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n < min {
			return fmt.Sprintf("Value must be at least %d", min)
		}
		if n > max {
			return fmt.Sprintf("Value must be no more than %d", max)
		}
		return ""
	}
}

var throttledReplicasRE = regexp.MustCompile(`^([0-9]+:[0-9]+)?$`)

func throttledReplicas(name string) func(string) string {
	return func(v string) string {
		parts := splitList(v)
		if strings.Join(parts, "") == "*" {
			return ""
		}
		for _, p := range parts {
			if !throttledReplicasRE.MatchString(p) {
				return name + " must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],..."
			}
		}
		return ""
	}
}

// kafkaMetadataVersions are MetadataVersion's ibpVersions in Kafka 3.9.
var kafkaMetadataVersions = strings.Fields(`0.8.0 0.8.1 0.8.2 0.9.0 0.10.0-IV0 0.10.0-IV1
0.10.1-IV0 0.10.1-IV1 0.10.1-IV2 0.10.2-IV0 0.11.0-IV0 0.11.0-IV1 0.11.0-IV2 1.0-IV0 1.1-IV0
2.0-IV0 2.0-IV1 2.1-IV0 2.1-IV1 2.1-IV2 2.2-IV0 2.2-IV1 2.3-IV0 2.3-IV1 2.4-IV0 2.4-IV1 2.5-IV0
2.6-IV0 2.7-IV0 2.7-IV1 2.7-IV2 2.8-IV0 2.8-IV1 3.0-IV0 3.0-IV1 3.1-IV0 3.2-IV0 3.3-IV0 3.3-IV1
3.3-IV2 3.3-IV3 3.4-IV0 3.5-IV0 3.5-IV1 3.5-IV2 3.6-IV0 3.6-IV1 3.6-IV2 3.7-IV0 3.7-IV1 3.7-IV2
3.7-IV3 3.7-IV4 3.8-IV0 3.9-IV0 4.0-IV0 4.0-IV1`)

// metadataVersion is MetadataVersionValidator: MetadataVersion.fromVersionString
// looks up the first three dot-separated parts of a "0." version and the
// first two of any other, among the ibpVersions and the releases up to the
// latest production one (3.9).
func metadataVersion(v string) string {
	n := 2
	if strings.HasPrefix(v, "0.") {
		n = 3
	}
	key := v
	if parts := strings.Split(v, "."); len(parts) > n {
		key = strings.Join(parts[:n], ".")
	}
	for _, mv := range kafkaMetadataVersions {
		release, _, _ := strings.Cut(mv, "-")
		if mv == key || (release == key && release != "4.0") {
			return ""
		}
	}
	return "Version " + v + " is not a valid version"
}

func remoteStorage(v string) string {
	if v == "true" {
		// kfake has no tiered storage: remote.log.storage.system.enable
		// is false, and Kafka refuses such a topic config.
		return "Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage."
	}
	return ""
}

var kafkaTopicConfigs = map[string]topicConfigDef{
	"cleanup.policy":                          {kmsg.ConfigTypeList, "delete", "log.cleanup.policy", nil},
	"compression.gzip.level":                  {kmsg.ConfigTypeInt, "-1", "compression.gzip.level", levelBetween(1, 9, -1)},
	"compression.lz4.level":                   {kmsg.ConfigTypeInt, "9", "compression.lz4.level", between(1, 17)},
	"compression.type":                        {kmsg.ConfigTypeString, "producer", "compression.type", inStrings("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")},
	"compression.zstd.level":                  {kmsg.ConfigTypeInt, "3", "compression.zstd.level", between(-131072, 22)},
	"delete.retention.ms":                     {kmsg.ConfigTypeLong, "86400000", "log.cleaner.delete.retention.ms", atLeast(0)},
	"file.delete.delay.ms":                    {kmsg.ConfigTypeLong, "60000", "log.segment.delete.delay.ms", atLeast(0)},
	"flush.messages":                          {kmsg.ConfigTypeLong, maxLongStr, "log.flush.interval.messages", atLeast(1)},
	"flush.ms":                                {kmsg.ConfigTypeLong, maxLongStr, "log.flush.interval.ms", atLeast(0)},
	"follower.replication.throttled.replicas": {kmsg.ConfigTypeList, "", "", throttledReplicas("follower.replication.throttled.replicas")},
	"index.interval.bytes":                    {kmsg.ConfigTypeInt, "4096", "log.index.interval.bytes", atLeast(0)},
	"leader.replication.throttled.replicas":   {kmsg.ConfigTypeList, "", "", throttledReplicas("leader.replication.throttled.replicas")},
	"local.retention.bytes":                   {kmsg.ConfigTypeLong, "-2", "log.local.retention.bytes", atLeast(-2)},
	"local.retention.ms":                      {kmsg.ConfigTypeLong, "-2", "log.local.retention.ms", atLeast(-2)},
	"max.compaction.lag.ms":                   {kmsg.ConfigTypeLong, maxLongStr, "log.cleaner.max.compaction.lag.ms", atLeast(1)},
	"max.message.bytes":                       {kmsg.ConfigTypeInt, strconv.Itoa(defMaxMessageBytes), "message.max.bytes", atLeast(0)},
	"message.downconversion.enable":           {kmsg.ConfigTypeBoolean, "true", "log.message.downconversion.enable", nil},
	"message.format.version":                  {kmsg.ConfigTypeString, "3.0-IV1", "log.message.format.version", metadataVersion},
	"message.timestamp.after.max.ms":          {kmsg.ConfigTypeLong, maxLongStr, "log.message.timestamp.after.max.ms", atLeast(0)},
	"message.timestamp.before.max.ms":         {kmsg.ConfigTypeLong, maxLongStr, "log.message.timestamp.before.max.ms", atLeast(0)},
	"message.timestamp.difference.max.ms":     {kmsg.ConfigTypeLong, maxLongStr, "log.message.timestamp.difference.max.ms", atLeast(0)},
	"message.timestamp.type":                  {kmsg.ConfigTypeString, "CreateTime", "log.message.timestamp.type", inStrings("CreateTime", "LogAppendTime")},
	"min.cleanable.dirty.ratio":               {kmsg.ConfigTypeDouble, "0.5", "log.cleaner.min.cleanable.ratio", nil},
	"min.compaction.lag.ms":                   {kmsg.ConfigTypeLong, "0", "log.cleaner.min.compaction.lag.ms", atLeast(0)},
	"min.insync.replicas":                     {kmsg.ConfigTypeInt, "1", "min.insync.replicas", atLeast(1)},
	"preallocate":                             {kmsg.ConfigTypeBoolean, "false", "log.preallocate", nil},
	"remote.log.copy.disable":                 {kmsg.ConfigTypeBoolean, "false", "", nil},
	"remote.log.delete.on.disable":            {kmsg.ConfigTypeBoolean, "false", "", nil},
	"remote.storage.enable":                   {kmsg.ConfigTypeBoolean, "false", "", remoteStorage},
	"retention.bytes":                         {kmsg.ConfigTypeLong, "-1", "log.retention.bytes", nil},
	"retention.ms":                            {kmsg.ConfigTypeLong, "604800000", "log.retention.ms", atLeast(-1)},
	"segment.bytes":                           {kmsg.ConfigTypeInt, "1073741824", "log.segment.bytes", atLeast(14)},
	"segment.index.bytes":                     {kmsg.ConfigTypeInt, "10485760", "log.index.size.max.bytes", atLeast(4)},
	"segment.jitter.ms":                       {kmsg.ConfigTypeLong, "0", "log.roll.jitter.ms", atLeast(0)},
	"segment.ms":                              {kmsg.ConfigTypeLong, "604800000", "log.roll.ms", atLeast(1)},
	"unclean.leader.election.enable":          {kmsg.ConfigTypeBoolean, "false", "unclean.leader.election.enable", nil},
}

func splitList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// validateTopicConfig checks one topic config as Kafka 3.9's LogConfig does
// (ConfigDef.parseType, then the key's validator) and returns nil or
// INVALID_CONFIG with Kafka's message.
func validateTopicConfig(k string, v *string) (*kerr.Error, string) {
	if k == "kfake.is_internal" {
		return nil, ""
	}
	def, ok := kafkaTopicConfigs[k]
	if !ok {
		return kerr.InvalidConfig, "Unknown topic config name: " + k
	}
	if v == nil {
		return nil, ""
	}
	raw := *v
	t := strings.TrimSpace(raw)
	invalid := func(msg string) (*kerr.Error, string) {
		return kerr.InvalidConfig, fmt.Sprintf("Invalid value %s for configuration %s: %s", raw, k, msg)
	}
	switch def.typ {
	case kmsg.ConfigTypeBoolean:
		if !strings.EqualFold(t, "true") && !strings.EqualFold(t, "false") {
			return invalid("Expected value to be either true or false")
		}
		t = strings.ToLower(t)
	case kmsg.ConfigTypeInt:
		if _, err := strconv.ParseInt(t, 10, 32); err != nil {
			return invalid("Not a number of type INT")
		}
	case kmsg.ConfigTypeLong:
		if _, err := strconv.ParseInt(t, 10, 64); err != nil {
			return invalid("Not a number of type LONG")
		}
	case kmsg.ConfigTypeDouble:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return invalid("Not a number of type DOUBLE")
		}
		if k == "min.cleanable.dirty.ratio" {
			if f < 0 || math.IsNaN(f) {
				return invalid("Value must be at least 0")
			}
			if f > 1 {
				return invalid("Value must be no more than 1")
			}
		}
	case kmsg.ConfigTypeList:
		if k == "cleanup.policy" {
			for _, p := range splitList(t) {
				if p != "compact" && p != "delete" {
					// ValidList reports the element.
					return kerr.InvalidConfig, fmt.Sprintf("Invalid value %s for configuration %s: String must be one of: compact, delete", p, k)
				}
			}
		}
	}
	if def.check != nil {
		if msg := def.check(t); msg != "" {
			return invalid(msg)
		}
	}
	return nil, ""
}

// The replication throttle rates (QuotaConfigs), dynamic broker configs
// Kafka's reassignment tool sets; Long.MAX_VALUE is unthrottled.
var throttleRateConfigs = []string{
	"leader.replication.throttled.rate",
	"follower.replication.throttled.rate",
	"replica.alter.log.dirs.io.max.bytes.per.second",
}

func init() {
	for k, d := range kafkaTopicConfigs {
		if _, ok := validTopicConfigs[k]; !ok {
			validTopicConfigs[k] = d.synonym
		}
		configDefaults[k] = d.def
		configTypes[k] = d.typ
	}
	configDefaults["log.segment.bytes"] = kafkaTopicConfigs["segment.bytes"].def
	for _, k := range throttleRateConfigs {
		validBrokerConfigs[k] = ""
		configDefaults[k] = maxLongStr
		configTypes[k] = kmsg.ConfigTypeLong
	}
}

// topicConfigsInvalid validates configs as a request sets them and returns
// the first refusal.
func topicConfigsInvalid(set map[string]*string) (*kerr.Error, string) {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if e, msg := validateTopicConfig(k, set[k]); e != nil {
			return e, msg
		}
	}
	return nil, ""
}

// createTopicConfigsInvalid validates a CreateTopics topic's configs; a null
// value is refused, as Kafka's controller does.
func createTopicConfigsInvalid(cfgs []kmsg.CreateTopicsRequestTopicConfig) (*kerr.Error, string) {
	set := make(map[string]*string, len(cfgs))
	for _, rc := range cfgs {
		if rc.Value == nil {
			return kerr.InvalidConfig, "Null value not supported for topic configs: " + rc.Name
		}
		set[rc.Name] = rc.Value
	}
	return topicConfigsInvalid(set)
}
