package spec

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// loc is what the validator knows about a path ("topics[1].replicationFactor"): where to anchor a
// message, whether the value was written in the file at all (or inherited from topicDefaults), and
// whether the loader already reported it as malformed.
type loc struct {
	pos                     Pos
	written, inherited, bad bool
}

// locate finds a path; specs built in Go have no file, so their locator knows only Pos fields.
type locate func(path string) loc

// locateTopic is locate for key ("partitions", "config.retention.ms", "" for the topic itself) of
// topics[i]: validating every topic asks for a few keys of each, and building their paths was
// most of what validating a topic allocated (issue 23).
type locateTopic func(i int, key string) loc

// topicLocator is the locateTopic of a locate: it builds the path.
func topicLocator(at locate) locateTopic {
	return func(i int, key string) loc { return at(topicKeyPath(i, key)) }
}

// Validate runs the checks that need the whole spec (unique ids, replication within the broker
// count, legal names, password references, ...) on a spec built in Go. Parse runs the same checks,
// plus the key, type and enum checks that need the YAML itself, and anchors each at its line.
func Validate(s *Spec) Diagnostics {
	at := structLocator(s)
	return validate(s, at, topicLocator(at))
}

// structLocator anchors paths at the Pos fields of an in-memory spec (zero Pos when it has none).
func structLocator(s *Spec) locate {
	pos := func(path string) Pos {
		var i int
		switch {
		case scanIndex(path, "topics[", &i) && i < len(s.Topics):
			t := s.Topics[i]
			if _, key, ok := strings.Cut(path, ".config."); ok && t.ConfigPos[key].Line > 0 {
				return t.ConfigPos[key]
			}
			return t.Pos
		case scanIndex(path, "brokers[", &i) && i < len(s.Brokers):
			return s.Brokers[i].Pos
		case scanIndex(path, "devices[", &i) && i < len(s.Devices):
			return s.Devices[i].Pos
		case scanIndex(path, "users[", &i) && i < len(s.Users):
			return s.Users[i].Pos
		case scanIndex(path, "services[", &i) && i < len(s.Services):
			return s.Services[i].Pos
		case scanIndex(path, "acls[", &i) && i < len(s.ACLs):
			return s.ACLs[i].Pos
		case scanIndex(path, "quotas[", &i) && i < len(s.Quotas):
			return s.Quotas[i].Pos
		case strings.HasPrefix(path, "tls"):
			return s.TLS.Pos
		case strings.HasPrefix(path, "clusters."):
			for _, c := range s.Clusters {
				if strings.HasPrefix(path, "clusters."+c.Name) {
					return c.Pos
				}
			}
		}
		return Pos{File: s.File}
	}
	return func(path string) loc { return loc{pos: pos(path)} }
}

// scanIndex reads the index of "prefix<N>]..." paths.
func scanIndex(path, prefix string, i *int) bool {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return false
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return false
	}
	n, err := strconv.Atoi(rest[:end])
	*i = n
	return err == nil
}

// validator collects the semantic diagnostics of one spec.
type validator struct {
	s       *Spec
	at      locate
	topicAt locateTopic
	diags   Diagnostics
	// isrFromDefaults gathers min.insync.replicas findings whose value came from topicDefaults, so
	// that one default wrong for every topic is reported once, not once per topic at the same spot.
	isrFromDefaults []isrFinding
}

// isrFinding is one topic's min.insync.replicas finding on a value inherited from topicDefaults.
type isrFinding struct {
	topic    string // "topics[2]"
	name     string
	isr, rf  int
	severity Severity
}

func (v *validator) errorf(path, format string, args ...any) {
	v.diags = append(v.diags, Diagnostic{Pos: v.at(path).pos, Severity: SeverityError, Message: diagnosticf(format, args...)})
}

func (v *validator) warnf(path, format string, args ...any) {
	v.diags = append(v.diags, Diagnostic{Pos: v.at(path).pos, Severity: SeverityWarning, Message: diagnosticf(format, args...)})
}

// from names where an inherited topic value came from, for messages: " (from topicDefaults)".
func (v *validator) from(path string) string {
	if v.at(path).inherited {
		return " (from topicDefaults)"
	}
	return ""
}

func validate(s *Spec, at locate, topicAt locateTopic) Diagnostics {
	v := &validator{s: s, at: at, topicAt: topicAt}
	v.brokers()
	v.tls()
	v.kafkaSASL()
	v.topicDefaults()
	v.topics()
	v.pruneEverything()
	v.clusters()
	v.namespaces()
	v.devices()
	v.access()
	return v.diags
}

var (
	hostnameRE = lazyRegexp(`^([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$`)
	envNameRE  = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]*$`)
	dnsLabelRE = lazyRegexp(dnsLabelPattern)
	serialRE   = lazyRegexp(`^COM[0-9]+$`)
	// patterns are the fields' patterns (fields.go), compiled once, when first matched.
	patterns = map[string]func() *regexp.Regexp{
		dnsLabelPattern:       dnsLabelRE,
		topicNamePattern:      lazyRegexp(topicNamePattern),
		quantityPattern:       lazyRegexp(quantityPattern),
		kraftClusterIDPattern: lazyRegexp(kraftClusterIDPattern),
		imagePattern:          lazyRegexp(imagePattern),
		imageTagPattern:       lazyRegexp(imageTagPattern),
		dnsSubdomainPattern:   lazyRegexp(dnsSubdomainPattern),
	}
)

// lazyRegexp compiles expr when it is first used rather than when the program starts: every
// command pays for package initialisation, most never validate a hostname (issue 23).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// matchPattern reports whether s matches the field pattern p. Topic names, checked 10,000 times in a
// large spec, are matched by a loop equivalent to topicNamePattern instead of the regexp (issue 9).
func matchPattern(p, s string) bool {
	if p != topicNamePattern {
		return patterns[p]().MatchString(s)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return s != ""
}

// clientNameRE and reservedTLSNames are the certs command's rules for tls.clients (certs/names.go):
// each client's files are <name>.crt, <name>.key, ... in tls.dir, next to ca.crt and keystore.password.
var (
	clientNameRE     = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	reservedTLSNames = []string{"ca", "ca.next", "ca.previous", "keystore"}
)

// kafkaUIPort is where the rendered Kafka UI listens and is published (render.KafkaUIPort).
const kafkaUIPort = 8080

// validHost accepts host names and IP addresses.
func validHost(h string) bool {
	return len(h) <= 253 && (hostnameRE().MatchString(h) || net.ParseIP(h) != nil)
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (v *validator) brokers() {
	s := v.s
	ids := map[int32]int{}
	hosts := map[string]int{}
	// Ports are unique per host: brokers on different machines (an imported multi-host cluster,
	// issue 15) may share port numbers. Brokers without a host share one key, as before. Render and
	// dev up, which publish every broker on one machine, refuse shared ports themselves.
	type hostPort struct {
		host string
		port int
	}
	ports := map[hostPort]string{}
	racks := 0
	for i, b := range s.Brokers {
		path := fmt.Sprintf("brokers[%d]", i)
		if v.at(path).bad {
			continue // not a mapping: reported by the loader
		}
		switch {
		case v.at(path + ".id").bad: // reported by the loader: missing or malformed
		case b.ID < 0:
			v.errorf(path+".id", "%s.id %d must be 0 or more", path, b.ID)
		default:
			if j, dup := ids[b.ID]; dup {
				v.errorf(path+".id", "%s.id %d is already the id of brokers[%d]", path, b.ID, j)
			} else {
				ids[b.ID] = i
			}
		}
		switch j, dup := hosts[strings.ToLower(b.Host)]; {
		case b.Host == "":
		case !validHost(b.Host):
			v.errorf(path+".host", "%s.host %q is not a host name or IP address", path, b.Host)
		case dup:
			v.errorf(path+".host", "%s.host %q is already the host of brokers[%d]", path, b.Host, j)
		default:
			hosts[strings.ToLower(b.Host)] = i
		}
		if b.Rack != "" {
			racks++
		}
		for _, p := range []struct {
			name string
			port int
		}{{"plaintext", b.Ports.Plaintext}, {"ssl", b.Ports.SSL}, {"sasl", b.Ports.SASL}, {"internal", b.Ports.Internal}, {"controller", b.Ports.Controller}} {
			pp := path + ".ports." + p.name
			key := hostPort{strings.ToLower(b.Host), p.port}
			switch other, dup := ports[key]; {
			case p.port == 0:
			case p.port < 0 || p.port > 65535:
				v.errorf(pp, "%s %d is not a port (1-65535)", pp, p.port)
			case dup:
				v.errorf(pp, "%s %d is already used by %s; every listener needs its own port", pp, p.port, other)
			default:
				ports[key] = pp
			}
		}
		for _, p := range []struct {
			name string
			port int
		}{{"plaintext", b.Ports.Plaintext}, {"ssl", b.Ports.SSL}, {"sasl", b.Ports.SASL}} {
			if s.Kafka.UI && p.port == kafkaUIPort {
				pp := path + ".ports." + p.name
				v.errorf(pp, "%s %d is also Kafka UI's port (kafka.ui: true publishes %d on the same host); pick another port", pp, p.port, kafkaUIPort)
			}
		}
		if b.Ports.Plaintext == 0 && b.Ports.SSL == 0 && b.Ports.SASL == 0 && !v.at(path+".ports").bad {
			v.errorf(path+".ports", "%s.ports has neither plaintext nor ssl nor sasl; clients could not connect to this broker", path)
		}
		if b.Ports.SSL != 0 && !s.TLS.Enabled && !v.at("tls.enabled").bad {
			v.errorf(path+".ports.ssl", "%s.ports.ssl is set but tls.enabled is false; enable TLS or remove the port", path)
		}
		if b.Ports.SASL != 0 {
			v.saslListener(path + ".ports.sasl")
		}
	}
	if racks > 0 && racks < len(s.Brokers) {
		for i, b := range s.Brokers {
			if b.Rack == "" {
				path := fmt.Sprintf("brokers[%d]", i)
				v.warnf(path, "%s has no rack while other brokers do; Kafka's rack-aware replica placement needs a rack on every broker", path)
			}
		}
	}
}

func (v *validator) tls() {
	t := v.s.TLS
	if t.Internal && !t.Enabled {
		v.errorf("tls.internal", "tls.internal needs tls.enabled: the brokers' certificates secure the INTERNAL and CONTROLLER listeners")
	}
	v.passwordRef("tls", t.PasswordEnv, t.PasswordFile, t.Enabled && t.KeystoreType != KeystorePEM,
		fmt.Sprintf("the %s keystore password", t.KeystoreType))
	for i, san := range t.ExtraSANs {
		if !validHost(strings.TrimPrefix(san, "*.")) {
			path := fmt.Sprintf("tls.extraSANs[%d]", i)
			v.errorf(path, "%s %q is not a host name, wildcard (*.example.org) or IP address", path, san)
		}
	}
	clients := map[string]int{}
	hosts := map[string]int{}
	for i, b := range v.s.Brokers {
		hosts[strings.ToLower(b.Host)] = i
	}
	for i, c := range t.Clients {
		path := fmt.Sprintf("tls.clients[%d]", i)
		// The certs command names files after the client (<client>.crt, .key, stores in tls.dir);
		// these are its rules, checked here too so validate reports them with their position.
		switch j, dup := clients[c]; {
		case dup:
			v.errorf(path, "%s %q is already listed as tls.clients[%d]", path, c, j)
		case strings.TrimSpace(c) == "":
			v.errorf(path, "%s is empty; name the client principal", path)
		case !clientNameRE().MatchString(c):
			v.errorf(path, "%s %q names the certificate files in tls.dir; use only letters, digits, '.', '_' and '-', starting with a letter or digit", path, c)
		case slices.Contains(reservedTLSNames, strings.ToLower(c)):
			v.errorf(path, "%s %q is reserved for the CA and password files in tls.dir; pick another name", path, c)
		default:
			if b, clash := hosts[strings.ToLower(c)]; clash {
				v.errorf(path, "%s %q is also the host of brokers[%d]; both would write %s.crt, so pick another name", path, c, b, c)
			}
			clients[c] = i
		}
	}
	if !t.Enabled {
		return
	}
	if !slices.ContainsFunc(v.s.Brokers, func(b Broker) bool { return b.Ports.SSL != 0 }) && len(v.s.Brokers) > 0 {
		v.errorf("tls.enabled", "tls.enabled is true but no broker has ports.ssl; add an SSL port to the brokers")
	}
	switch {
	case v.at("tls.validity").bad || v.at("tls.renewBefore").bad: // reported by the loader
	case t.Validity <= 0:
		v.errorf("tls.validity", "tls.validity must be longer than 0")
	case t.RenewBefore >= t.Validity:
		v.errorf("tls.renewBefore", "tls.renewBefore %s must be shorter than tls.validity %s",
			formatDuration(t.RenewBefore), formatDuration(t.Validity))
	}
}

// saslListener checks what a broker's SASL_SSL listener (ports.sasl, issue 14) needs in the
// rendered deployment: TLS, because SCRAM is never rendered over plaintext; tls.internal, because
// only brokers that authenticate each other by certificate can run an authorizer without making
// User:ANONYMOUS a super user, and SCRAM users on a cluster that enforces no ACLs would protect
// nothing; and kafka.sasl, the admin the storage is formatted with.
func (v *validator) saslListener(path string) {
	t := v.s.TLS
	switch {
	case v.at("tls.enabled").bad || v.at("tls.internal").bad: // reported by the loader
	case !t.Enabled:
		v.errorf(path, "%s is a SASL_SSL listener but tls.enabled is false; SCRAM is never rendered over plaintext: enable TLS or remove the port", path)
	case !t.Internal:
		v.errorf(path, "%s needs tls.internal: true; without it the brokers are User:ANONYMOUS to each other, so the rendered cluster cannot enforce ACLs for the SCRAM users", path)
	}
	if v.s.Kafka.SASL == nil {
		v.errorf(path, "%s needs kafka.sasl: the SCRAM admin the brokers are formatted with (mechanism, username, passwordEnv or passwordFile)", path)
	}
}

// saslUserRE is what kafka-storage format --add-scram carries unchanged: it splits its argument at
// commas and strips surrounding quotes, with no escape.
var saslUserRE = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)

// kafkaSASL checks the rendered cluster's SCRAM admin (kafka.sasl, issue 14).
func (v *validator) kafkaSASL() {
	a := v.s.Kafka.SASL
	if a == nil {
		return
	}
	if a.Mechanism != MechanismSCRAM256 && a.Mechanism != MechanismSCRAM512 && !v.at("kafka.sasl.mechanism").bad {
		v.errorf("kafka.sasl.mechanism", "kafka.sasl.mechanism %q: the rendered brokers store SCRAM credentials; use SCRAM-SHA-256 or SCRAM-SHA-512", a.Mechanism)
	}
	if a.Username != "" && !saslUserRE().MatchString(a.Username) {
		v.errorf("kafka.sasl.username", "kafka.sasl.username %q: kafka-storage format --add-scram cannot carry it; use letters, digits, '.', '_', '@' and '-'", a.Username)
	}
	v.passwordRef("kafka.sasl", a.PasswordEnv, a.PasswordFile, true, "the SCRAM admin password")
	if !slices.ContainsFunc(v.s.Brokers, func(b Broker) bool { return b.Ports.SASL != 0 }) {
		v.warnf("kafka.sasl", "kafka.sasl is set but no broker has ports.sasl; render formats no SCRAM admin without a SASL listener")
	}
	for _, c := range v.s.Clusters {
		if c.Kubernetes != nil && c.Security == SecuritySASLSSL && c.SASL != nil && c.SASL.Username != a.Username {
			p := "clusters." + c.Name + ".sasl.username"
			v.warnf(p, "%s %q is not kafka.sasl's user %q: the rendered cluster starts with only %q, so avatar-sync cannot log in to it as %q until that user is created",
				p, c.SASL.Username, a.Username, a.Username, c.SASL.Username)
		}
	}
}

// passwordRef checks a passwordEnv/passwordFile pair: at most one, a legal variable name, and one of
// them when required (the password itself never appears in avatar.yaml).
func (v *validator) passwordRef(path, env, file string, required bool, what string) {
	switch {
	case env != "" && file != "":
		v.errorf(path+".passwordFile", "%s.passwordEnv and %s.passwordFile are both set; keep one", path, path)
	case env != "" && !envNameRE().MatchString(env):
		v.errorf(path+".passwordEnv", "%s.passwordEnv %q is not an environment variable name (letters, digits, '_')", path, env)
	case env == "" && file == "" && required:
		v.errorf(path, "%s needs passwordEnv or passwordFile for %s (the password itself never goes in avatar.yaml)", path, what)
	}
}

func (v *validator) topicDefaults() {
	d := v.s.TopicDefaults
	if d.Partitions < 0 || (d.Partitions == 0 && v.at("topicDefaults.partitions").written && !v.at("topicDefaults.partitions").bad) {
		v.errorf("topicDefaults.partitions", "topicDefaults.partitions %d must be 1 or more", d.Partitions)
	}
	if d.ReplicationFactor < 0 || (d.ReplicationFactor == 0 && v.at("topicDefaults.replicationFactor").written && !v.at("topicDefaults.replicationFactor").bad) {
		v.errorf("topicDefaults.replicationFactor", "topicDefaults.replicationFactor %d must be 1 or more", d.ReplicationFactor)
	}
}

// legalTopicName applies Kafka's topic name rules (org.apache.kafka.common.internals.Topic.validate).
func legalTopicName(name string) string {
	switch {
	case name == "." || name == "..":
		return "is not a legal Kafka topic name ('.' and '..' are reserved)"
	case len(name) > 249:
		return fmt.Sprintf("is %d characters long; Kafka allows at most 249", len(name))
	case !matchPattern(topicNamePattern, name):
		return "is not a legal Kafka topic name (letters, digits, '.', '_' and '-' only)"
	}
	return ""
}

// isrDefaults reports the gathered topicDefaults min.insync.replicas findings: one topic as before,
// several with the same replicationFactor as one message naming them.
func (v *validator) isrDefaults() {
	type group struct {
		rf       int
		severity Severity
	}
	var order []group
	byGroup := map[group][]isrFinding{}
	for _, f := range v.isrFromDefaults {
		g := group{f.rf, f.severity}
		if _, seen := byGroup[g]; !seen {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], f)
	}
	for _, g := range order {
		fs := byGroup[g]
		first := fs[0]
		path := first.topic + ".config.min.insync.replicas"
		what := path + fmt.Sprintf(" %d (from topicDefaults)", first.isr)
		if len(fs) > 1 {
			names := make([]string, len(fs))
			for i, f := range fs {
				names[i] = cmp.Or(f.name, f.topic)
			}
			what = fmt.Sprintf("topicDefaults.config.min.insync.replicas %d, inherited by %d topics (%s),", first.isr, len(fs), strings.Join(names, ", "))
		}
		if g.severity == SeverityError {
			v.errorf(path, "%s exceeds replicationFactor %d: every write with acks=all would fail", what, g.rf)
		} else {
			rf := ""
			if len(fs) > 1 {
				rf = fmt.Sprintf(" %d", g.rf)
			}
			v.warnf(path, "%s equals replicationFactor%s: one broker down stops producers using acks=all", what, rf)
		}
	}
}

func (v *validator) topics() {
	defer v.isrDefaults()
	s := v.s
	// byMetric holds the first topic of each metric name ('.' read as '_'). Equal names have equal
	// metric names, so a repeated name is either that first topic's or one of those whose metric
	// name was taken (clashed, by name): no second map of every name (issue 23).
	byMetric := make(map[string]int, len(s.Topics))
	var clashed map[string]int
	defaultsBad := v.at("topicDefaults.partitions").bad || v.at("topicDefaults.replicationFactor").bad
	for i, t := range s.Topics {
		if v.topicAt(i, "").bad {
			continue // not a mapping: reported by the loader
		}
		// Paths name keys in messages: they are built when there is a message to write.
		path := func() string { return topicKeyPath(i, "") }
		if t.Name != "" {
			metric := strings.ReplaceAll(t.Name, ".", "_")
			owner, taken := byMetric[metric]
			j, dup := owner, taken && s.Topics[owner].Name == t.Name
			if taken && !dup {
				j, dup = clashed[t.Name]
			}
			if why := legalTopicName(t.Name); why != "" {
				v.errorf(path()+".name", "%s.name %q %s", path(), t.Name, why)
			} else if dup {
				where := ""
				if p := v.topicAt(j, "").pos; p.Line > 0 {
					where = fmt.Sprintf(" (line %d)", p.Line)
				}
				v.errorf(path()+".name", "%s.name %q is already declared by topics[%d]%s", path(), t.Name, j, where)
			} else {
				if taken {
					if clashed == nil {
						clashed = map[string]int{}
					}
					clashed[t.Name] = i
					v.warnf(path()+".name", "%s.name %q collides with %q (topics[%d]): Kafka's metric names replace '.' with '_'", path(), t.Name, s.Topics[owner].Name, owner)
				} else {
					byMetric[metric] = i
				}
				if strings.HasPrefix(t.Name, "__") {
					v.warnf(path()+".name", "%s.name %q starts with \"__\", which Kafka uses for its internal topics", path(), t.Name)
				}
			}
		}
		switch pl := v.topicAt(i, "partitions"); {
		case pl.bad || defaultsBad && v.at("topicDefaults.partitions").bad:
		case t.Partitions == 0 && !pl.written:
			v.errorf(path(), "%s.partitions is not set; set it on the topic or in topicDefaults.partitions", path())
		case t.Partitions < 1 && !pl.inherited: // topicDefaults itself is checked once, not per topic
			pPath := path() + ".partitions"
			v.errorf(pPath, "%s %d must be 1 or more", pPath, t.Partitions)
		}
		switch rl := v.topicAt(i, "replicationFactor"); {
		case rl.bad || defaultsBad && v.at("topicDefaults.replicationFactor").bad:
		case t.ReplicationFactor == 0 && !rl.written:
			v.errorf(path(), "%s.replicationFactor is not set; set it on the topic or in topicDefaults.replicationFactor", path())
		case t.ReplicationFactor < 1:
			if !rl.inherited {
				rfPath := path() + ".replicationFactor"
				v.errorf(rfPath, "%s %d must be 1 or more", rfPath, t.ReplicationFactor)
			}
		case len(s.Brokers) > 0 && t.ReplicationFactor > len(s.Brokers):
			rfPath := path() + ".replicationFactor"
			v.errorf(rfPath, "%s %d%s exceeds the %s", rfPath, t.ReplicationFactor, v.from(rfPath), plural(len(s.Brokers), "broker"))
		}
		v.topicConfig(i, t)
	}
}

// topicConfig checks the relations between the configs of topics[i] that Kafka would reject or
// regret.
func (v *validator) topicConfig(i int, t Topic) {
	path := func() string { return topicKeyPath(i, "") } // for messages
	if s, set := t.Config["min.insync.replicas"]; set && t.ReplicationFactor > 0 {
		if isr, err := strconv.Atoi(s); err == nil {
			v.insyncReplicas(i, t, isr)
		}
	}
	if s, set := t.Config["min.compaction.lag.ms"]; set {
		minLag, err1 := strconv.ParseInt(s, 10, 64)
		maxLag, err2 := strconv.ParseInt(t.Config["max.compaction.lag.ms"], 10, 64)
		if err1 == nil && err2 == nil && minLag > maxLag {
			p := path() + ".config.min.compaction.lag.ms"
			v.errorf(p, "%s %s exceeds max.compaction.lag.ms %s", p, FormatDurationMs(minLag), FormatDurationMs(maxLag))
		}
	}
	for key, val := range t.Config {
		if t.ConfigPos[key].Line > 0 {
			continue // values from a file were checked while decoding
		}
		norm, err := NormalizeTopicConfig(key, val)
		if err != nil {
			// This catches specs built in Go.
			v.errorf(path()+".config."+key, "%s.config.%s: %v", path(), key, err)
		} else if def, _ := LookupTopicConfig(key); def.Unsupported(norm) != "" {
			v.errorf(path()+".config."+key, "%s.config.%s %s: %s", path(), key, norm, def.Unsupported(norm))
		}
	}
}

// insyncReplicas checks min.insync.replicas isr of topics[i] against its replicationFactor.
func (v *validator) insyncReplicas(i int, t Topic, isr int) {
	if isr < t.ReplicationFactor || isr <= 1 {
		return // nothing to say (rf is 1 or more): no path to build
	}
	inherited := v.topicAt(i, "config.min.insync.replicas").inherited
	path := topicKeyPath(i, "")
	isrPath := path + ".config.min.insync.replicas"
	switch {
	case inherited && isr > t.ReplicationFactor:
		v.isrFromDefaults = append(v.isrFromDefaults, isrFinding{path, t.Name, isr, t.ReplicationFactor, SeverityError})
	case inherited && isr == t.ReplicationFactor:
		v.isrFromDefaults = append(v.isrFromDefaults, isrFinding{path, t.Name, isr, t.ReplicationFactor, SeverityWarning})
	case isr > t.ReplicationFactor:
		v.errorf(isrPath, "%s %d%s exceeds replicationFactor %d: every write with acks=all would fail",
			isrPath, isr, v.from(isrPath), t.ReplicationFactor)
	case isr == t.ReplicationFactor:
		v.warnf(isrPath, "%s %d%s equals replicationFactor: one broker down stops producers using acks=all",
			isrPath, isr, v.from(isrPath))
	}
}

// pruneEverything warns about deletion: prune over an empty topic list (issue 10 item 12): the
// desired state is then "no topics", and apply --allow-delete would delete every managed topic.
func (v *validator) pruneEverything() {
	if v.s.Deletion == DeletionPrune && len(v.s.Topics) == 0 {
		v.warnf("deletion", "deletion: prune with no topics declared: the desired state is empty, so apply --allow-delete would delete every topic avatar-sync manages; declare the topics, or set deletion: retain")
	}
}

func (v *validator) clusters() {
	for _, c := range v.s.Clusters {
		path := "clusters." + c.Name
		if len(c.Name) > 63 {
			v.errorf(path, "cluster name %q is %d characters long; a DNS label has at most 63", c.Name, len(c.Name))
		} else if !dnsLabelRE().MatchString(c.Name) {
			v.errorf(path, "cluster name %q is not a DNS label (lower-case letters, digits and '-')", c.Name)
		}
		if k := c.Kubernetes; k != nil && k.ExternalHost != "" && !validHost(k.ExternalHost) {
			p := path + ".kubernetes.externalHost"
			v.errorf(p, "%s %q is not a host name or IP address (brokers advertise it to clients outside the cluster)", p, k.ExternalHost)
		}
		if k := c.Kubernetes; k != nil && k.Watch != nil && k.Watch.Enabled {
			p := path + ".kubernetes.watch"
			if strings.TrimSpace(k.Watch.Git) == "" {
				v.errorf(p, "%s.git is required with enabled: true (the repository the daemon follows)", p)
			}
			// issue 21: spec/urlcreds.go
			v.noURLCredentials(p+".git", k.Watch.Git, "put them in the Secret avatar-sync-watch-git (docs/watch.md) and write the URL without them")
			if n := k.Watch.MetricsPort; n < 1 || n > 65535 {
				v.errorf(p+".metricsPort", "%s.metricsPort %d is not a port (1-65535)", p, n)
			}
			if t := k.Watch.Cluster; t != "" {
				if _, ok := v.s.FindCluster(t); !ok {
					v.errorf(p+".cluster", "%s.cluster %q is not a target under clusters:", p, t)
				}
			}
		}
		if c.Name == EmbeddedCluster && len(c.Bootstrap) > 0 {
			v.errorf(path+".bootstrap", "%s is the in-process cluster and takes no bootstrap; give a remote cluster another name", path)
		}
		for i, addr := range c.Bootstrap {
			p := fmt.Sprintf("%s.bootstrap[%d]", path, i)
			if why := checkHostPort(addr); why != "" {
				v.errorf(p, "%s %q %s", p, addr, why)
			}
		}
		if c.Embedded() && c.Security != "" && c.Security != SecurityPlaintext && c.Security != SecuritySASLPlaintext {
			v.errorf(path+".security", "%s.security %s needs bootstrap servers; the embedded cluster speaks plaintext or sasl_plaintext only", path, c.Security)
		}

		tlsFiles := c.CAFile != "" || c.CertFile != "" || c.KeyFile != ""
		if tlsFiles && (c.Security == "" || c.Security == SecurityPlaintext) {
			v.errorf(path+".security", "%s has caFile/certFile/keyFile but security is plaintext; set security: ssl", path)
		}
		if (c.CertFile == "") != (c.KeyFile == "") {
			v.errorf(path, "%s needs both certFile and keyFile for mutual TLS, or neither", path)
		}
		switch {
		case (c.Security == SecuritySASLSSL || c.Security == SecuritySASLPlaintext) && c.SASL == nil:
			v.errorf(path+".security", "%s.security %s needs a sasl: section (mechanism, username, passwordEnv)", path, c.Security)
		case c.Security != SecuritySASLSSL && c.Security != SecuritySASLPlaintext && c.SASL != nil:
			v.errorf(path+".sasl", "%s.sasl is set but security is %q; set security: sasl_ssl", path, c.Security)
		case c.Security == SecuritySASLPlaintext && c.Embedded() && c.SASL.Mechanism == "PLAIN":
			v.errorf(path+".sasl.mechanism", "%s.sasl.mechanism: the embedded cluster serves SCRAM-SHA-256 and SCRAM-SHA-512 to its admin user, not PLAIN", path)
		}
		if c.SASL != nil {
			v.passwordRef(path+".sasl", c.SASL.PasswordEnv, c.SASL.PasswordFile, true, "the SASL password")
		}
	}
}

// checkHostPort explains why addr is not host:port ("" when it is).
func checkHostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "is not host:port"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "has an invalid port (use 1-65535)"
	}
	if host == "" || !validHost(host) {
		return "has an invalid host"
	}
	return ""
}

var pluginKindRE = lazyRegexp(`^[a-z0-9][a-z0-9-]*$`)

func (v *validator) devices() {
	names := map[string]int{}
	for i, d := range v.s.Devices {
		path := fmt.Sprintf("devices[%d]", i)
		if d.Name != "" {
			if j, dup := names[d.Name]; dup {
				v.errorf(path+".name", "%s.name %q is already the name of devices[%d]", path, d.Name, j)
			} else {
				names[d.Name] = i
			}
		}
		v.deviceEnv(path, d) // issue 21: spec/secretenv.go
		if d.Kind != "" && !pluginKindRE().MatchString(d.Kind) {
			v.errorf(path+".kind", "%s.kind %q is not a plugin name (lower-case letters, digits and '-')", path, d.Kind)
		}
		if d.Address == "" || d.Kind == "" {
			continue
		}
		ap := path + ".address"
		switch {
		case slices.Contains(deviceKindsWithHostPort, d.Kind):
			if why := checkHostPort(d.Address); why != "" {
				v.errorf(ap, "%s %q %s; %s devices are reached at host:port", ap, d.Address, why, d.Kind)
			}
		case d.Kind == "http":
			v.noURLCredentials(ap, d.Address, "probe a health URL that needs none") // issue 21
			if strings.Contains(d.Address, "://") {
				u, err := url.Parse(d.Address)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					v.errorf(ap, "%s %q is not an http:// or https:// URL", ap, d.Address)
				}
			} else if why := checkHostPort(d.Address); why != "" {
				v.errorf(ap, "%s %q %s; http devices take a URL or host:port", ap, d.Address, why)
			}
		case d.Kind == "openbci-serial":
			if !strings.HasPrefix(d.Address, "/") && !serialRE().MatchString(d.Address) {
				v.errorf(ap, "%s %q is not a serial device path (e.g. /dev/ttyUSB0 or COM3)", ap, d.Address)
			}
		}
	}
}
