package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
)

// ImportOptions say what `avatar-sync import` writes besides what it read (issue 15).
type ImportOptions struct {
	// Name is metadata.name of the written spec.
	Name string
	// Target is the clusters: entry the spec gets for where it came from: its name, bootstrap and
	// security settings, as the user gave them.
	Target spec.Cluster
	// Topics, when set, narrows the import to the topics whose name it matches (--topics).
	Topics *regexp.Regexp
	// Source describes where the state was read, for the header ("127.0.0.1:9092" or `--cluster lab`).
	Source string
	// CertSubject is the subject of the client certificate Target connects with ("CN=…,O=…", as
	// Kafka names the principal; "" without one). Without a SASL user it is who avatar-sync is on
	// the cluster, and like a SASL admin it is never imported.
	CertSubject string
}

// Import turns the live state of a cluster into a spec that, applied back to the same cluster,
// plans no topic, partition, replication or config change (issue 15): every topic with its
// partitions and replication factor, and exactly the configs set on the topic (source "set on the
// topic"); values inherited from broker or Kafka defaults are left out, since the plan never compares
// them. Access control comes along (importAccess): SCRAM users without any password (a user
// without a reference plans nothing while it exists), raw ACL entries, and quotas in human units;
// never the target's own admin user. It is pure: clusters reads the Live, cmd writes the file. The document's comments say where
// each value came from and what was left out and why.
//
// The imported topics are not managed yet: the first apply of the spec records them in the inventory
// (the plan shows `~ adopt topic … into the inventory`), so deletion: prune can only ever delete a
// topic once it is in a committed spec.
func Import(live plans.Live, o ImportOptions) spec.Document {
	s := &spec.Spec{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: o.Name}}
	doc := spec.Document{Spec: s, Comments: map[string][]string{}}
	doc.Header = []string{
		fmt.Sprintf("Imported by `avatar-sync import` from %s (cluster id %s).", o.Source, cmp.Or(live.ClusterID, "unknown")),
		"Review it, commit it, and from then on change the cluster through this file:",
		"the first apply records these topics in avatar-sync's inventory (no other change).",
		"Topic configs are the ones set on each topic; values inherited from broker or",
		"Kafka defaults are left out, because avatar-sync never compares them.",
	}
	var leftOut []string

	secure := o.Target.Security == spec.SecuritySSL || o.Target.Security == spec.SecuritySASLSSL
	hosts := map[string]int{}
	for _, b := range live.Brokers {
		hosts[strings.ToLower(b.Host)]++
	}
	for i, b := range live.Brokers {
		br := spec.Broker{ID: b.ID, Host: b.Host, Rack: b.Rack}
		if secure {
			br.Ports.SSL = int(b.Port)
		} else {
			br.Ports.Plaintext = int(b.Port)
		}
		path := fmt.Sprintf("brokers[%d]", i)
		if hosts[strings.ToLower(b.Host)] > 1 {
			// avatar.yaml names every broker by a unique host: it is the container, service and
			// certificate name of rendered deployments. Brokers advertised on one address (a
			// laptop cluster) get a stand-in that says so.
			br.Host = fmt.Sprintf("kafka-%d", b.ID)
			doc.Comments[path] = append(doc.Comments[path], fmt.Sprintf("advertised as %s:%d, which other brokers share; hosts are unique in avatar.yaml, so %s stands in", b.Host, b.Port, br.Host))
		}
		s.Brokers = append(s.Brokers, br)
	}
	if secure {
		// Brokers serving TLS need tls.enabled in a valid spec; PEM needs no keystore password.
		s.TLS = spec.TLS{Enabled: true, KeystoreType: spec.KeystorePEM}
		doc.Comments["tls"] = []string{"The brokers serve TLS. certs generate would write PEM files to tls.dir; adjust before rendering deployments."}
	}
	if len(live.Brokers) > 0 {
		doc.Comments["brokers"] = []string{"From the cluster's metadata: id, advertised host and port, rack."}
	}

	names := slices.Sorted(maps.Keys(live.Topics))
	var skippedInternal, skippedFilter []string
	var kept []topics.Observed
	for _, name := range names {
		ob := live.Topics[name]
		if topics.IsInternal(name, ob) {
			skippedInternal = append(skippedInternal, name)
			continue
		}
		if o.Topics != nil && !o.Topics.MatchString(name) {
			skippedFilter = append(skippedFilter, name)
			continue
		}
		ob.Name = name
		kept = append(kept, ob)
	}

	// The most common partition count and replication factor become topicDefaults, so each topic
	// states only how it differs.
	s.TopicDefaults.Partitions = mostCommon(kept, topics.Observed.Partitions)
	s.TopicDefaults.ReplicationFactor = mostCommon(kept, topics.Observed.ReplicationFactor)
	if len(kept) > 0 {
		doc.Comments["topicDefaults"] = []string{"The partition count and replication factor most topics have; topics below state only how they differ."}
	}
	for i, ob := range kept {
		t := spec.Topic{Name: ob.Name}
		path := fmt.Sprintf("topics[%d]", i)
		if p := ob.Partitions(); p != s.TopicDefaults.Partitions {
			t.Partitions = p
		}
		if rf := ob.ReplicationFactor(); rf != s.TopicDefaults.ReplicationFactor {
			t.ReplicationFactor = rf
		}
		if uneven(ob) {
			doc.Comments[path] = append(doc.Comments[path], fmt.Sprintf("partitions have different replica counts (a move in progress?); replicationFactor is the largest, %d", ob.ReplicationFactor()))
		}
		var notes []string
		t.Config, notes = importConfigs(ob, path, doc.Comments)
		leftOut = append(leftOut, notes...)
		s.Topics = append(s.Topics, t)
	}

	declared := map[string]bool{}
	for _, t := range s.Topics {
		declared[t.Name] = true
	}
	admin, adminFrom := o.CertSubject, "the subject of the target's certFile"
	if o.Target.SASL != nil {
		admin, adminFrom = o.Target.SASL.Username, "the target's sasl.username"
	}
	leftOut = append(leftOut, importAccess(live.Access, declared, admin, adminFrom, s, doc)...)
	if len(s.Users)+len(s.ACLs)+len(s.Quotas) > 0 {
		doc.Header = append(doc.Header,
			"Users, ACLs and quotas are the cluster's, without any password (see users: below);",
			"the first apply also records their principals in the inventory.")
	}

	target := o.Target
	target.ClusterID = ""
	switch {
	case validClusterID(live.ClusterID):
		target.ClusterID = live.ClusterID
	case live.ClusterID != "":
		leftOut = append(leftOut, fmt.Sprintf("clusters.%s.clusterId: the cluster's id %q is not a KRaft id of 22 characters, so it is not pinned", target.Name, live.ClusterID))
	}
	s.Clusters = []spec.Cluster{target}
	doc.Comments["clusters."+target.Name] = []string{"Where this spec was imported from; plan and apply take --cluster " + target.Name + "."}
	if target.ClusterID != "" {
		doc.Comments["clusters."+target.Name] = append(doc.Comments["clusters."+target.Name], "clusterId pins it: plan and apply refuse a cluster with another id.")
	}

	if len(skippedInternal) > 0 {
		leftOut = append(leftOut, fmt.Sprintf("internal topics (Kafka's and tools' own; avatar-sync never manages them): %s", strings.Join(skippedInternal, ", ")))
	}
	if len(skippedFilter) > 0 {
		leftOut = append(leftOut, fmt.Sprintf("topics not matching --topics %s (the plan lists them as unmanaged, never deletes them): %s", o.Topics, strings.Join(skippedFilter, ", ")))
	}
	sections := "kafka:, tls: and devices:"
	if secure {
		sections = "kafka:, tls: beyond enabled, and devices:"
	}
	leftOut = append(leftOut,
		"configs inherited from broker or Kafka defaults: avatar-sync compares only configs set on a topic",
		sections+" (deployment, certificates and lab devices are not readable from Kafka)",
	)
	doc.Footer = append([]string{"Left out:"}, bullet(leftOut)...)
	return doc
}

// importConfigs returns the configs set on the topic, canonical, with a comment per value that
// needs one (its raw value, equal to Kafka's default, deprecated) recorded under the config's path,
// and what it left out and why.
func importConfigs(ob topics.Observed, path string, comments map[string][]string) (config map[string]string, leftOut []string) {
	config = map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(ob.Config)) {
		v := ob.Config[key]
		if v.Source != topics.SourceTopic {
			continue
		}
		cpath := path + ".config." + key
		def, known := spec.LookupTopicConfig(key)
		if !known {
			leftOut = append(leftOut, fmt.Sprintf("%s: config %s=%s is not a Kafka topic config avatar-sync knows; the plan reports it as drift and leaves it alone", ob.Name, key, v.Value))
			continue
		}
		if v.Sensitive && v.Value == "" {
			leftOut = append(leftOut, fmt.Sprintf("%s: config %s is sensitive and the cluster does not return its value", ob.Name, key))
			continue
		}
		norm, err := def.Normalize(v.Value)
		if err != nil {
			leftOut = append(leftOut, fmt.Sprintf("%s: config %s: the live value %v; set it in the spec by hand", ob.Name, key, err))
			continue
		}
		config[key] = norm
		var notes []string
		if h := spec.HumanTopicConfig(key, norm); h != norm {
			notes = append(notes, fmt.Sprintf("%s on the cluster", norm))
		}
		if norm == def.Default {
			notes = append(notes, "set on the topic although it equals Kafka's default")
		}
		if def.Deprecated != "" {
			notes = append(notes, "deprecated: "+def.Deprecated)
		}
		if len(notes) > 0 {
			comments[cpath] = []string{strings.Join(notes, "; ")}
		}
	}
	return config, leftOut
}

func bullet(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "- " + l
	}
	return out
}

// mostCommon is the value of f most topics share (the smaller on a tie); 0 without topics.
func mostCommon(obs []topics.Observed, f func(topics.Observed) int) int {
	counts := map[int]int{}
	for _, o := range obs {
		counts[f(o)]++
	}
	best, n := 0, 0
	for _, v := range slices.Sorted(maps.Keys(counts)) {
		if counts[v] > n {
			best, n = v, counts[v]
		}
	}
	return best
}

// uneven reports partitions with different replica counts.
func uneven(o topics.Observed) bool {
	rf := -1
	for _, r := range o.Replicas {
		if rf >= 0 && len(r) != rf {
			return true
		}
		rf = len(r)
	}
	return false
}

var kraftClusterIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// validClusterID is the spec's rule for clusterId, so the imported spec validates.
func validClusterID(id string) bool { return kraftClusterIDRE.MatchString(id) }
