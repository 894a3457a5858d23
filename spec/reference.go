package spec

import (
	"bytes"
	"fmt"
	"strings"
)

// Reference returns docs/avatar-yaml.md: the avatar.yaml reference in Markdown, generated from the
// tables the loader checks against (a test keeps the committed file in sync, `avatar-sync schema
// -o markdown` prints it).
func Reference() []byte {
	var b bytes.Buffer
	b.WriteString(`# avatar.yaml reference

<!-- Generated from spec/fields.go and spec/kafkaconfig.go; do not edit. Regenerate with
     go test ./spec -run TestReferenceInSync -update -->

avatar.yaml is the single source of truth for the Avatar project's Kafka cluster. ` + "`avatar-sync validate`" + `
checks it; ` + "`avatar-sync schema`" + ` prints a JSON Schema editors can use (the example starts with
` + "`# yaml-language-server: $schema=../schema/avatar.schema.json`" + `). Unknown keys are errors, with a
suggestion for near misses; every problem is reported with its line and column. The file is read from a
regular file or standard input (` + "`-f -`" + `) of at most 16 MiB.

File paths in the spec (` + "`tls.dir`" + `, ` + "`tls.passwordFile`" + `, ` + "`tls.ca.certFile`" + `/` + "`keyFile`" + `, a target's
` + "`caFile`" + `/` + "`certFile`" + `/` + "`keyFile`" + `, ` + "`sasl.passwordFile`" + ` and ` + "`users[].passwordFile`" + `) are relative to the directory of the spec file,
whatever the working directory (relative to the working directory when the spec comes from standard
input); absolute paths are taken as written. A password reference is read in one order everywhere:
the ` + "`passwordEnv`" + ` variable when set, else the ` + "`passwordFile`" + ` (trailing line feeds dropped; a carriage
return is refused).

A spec may also be a directory (` + "`-f DIR`" + `): every ` + "`*.yaml`" + ` file in it is merged, one team per file; lists
(` + "`topics`" + `, ` + "`brokers`" + `, ` + "`devices`" + `) and ` + "`clusters`" + ` are joined, any other top-level key is set by one file,
and a topic, broker, device or target declared in two files is an error naming both. A target's
` + "`overrides`" + ` (brokers, ` + "`topicDefaults`" + `, topic settings) are merged over the spec for ` + "`--cluster NAME`" + ` and
the result is validated as a whole (docs/adoption.md; ` + "`avatar-sync config --cluster NAME`" + ` prints it).

## Units

- **durations**: ` + "`90s`, `10m`, `1h`, `7d`, `2w`, `1h30m`, `1.5h`" + ` (units ms, s, m, h, d, w). In Kafka configs a
  bare integer is milliseconds and ` + "`-1`" + ` or ` + "`forever`" + ` means no limit; elsewhere a unit is required.
- **sizes**: ` + "`512MiB`, `1GiB`" + ` (powers of 1024: KiB, MiB, GiB, TiB) or ` + "`500MB`, `1GB`" + ` (powers of 1000: KB, MB,
  GB, TB), case-insensitive; a bare integer is bytes; ` + "`-1`" + ` or ` + "`unlimited`" + ` means no limit. Rates
  (` + "`reassignment.throttle`" + `, and ` + "`--throttle`" + ` which reads them the same way) are sizes per second, ` + "`/s`" + ` optional.
- Loaded values are Kafka's: ` + "`retention: 1h`" + ` becomes ` + "`retention.ms: 3600000`" + `, ` + "`segment.bytes: 512MiB`" + `
  becomes ` + "`536870912`" + `; plans compare these canonical values, so ` + "`7d`" + ` and ` + "`604800000`" + ` are the same.

## Secrets

Passwords never live in avatar.yaml. Keystore and SASL passwords are referenced with ` + "`passwordEnv`" + `
(the name of an environment variable) or ` + "`passwordFile`" + ` (a file holding it); a ` + "`password:`" + ` key
anywhere is an error.

`)
	seen := map[*object]bool{}
	var walk func(o *object, path string)
	walk = func(o *object, path string) {
		if seen[o] {
			return
		}
		seen[o] = true
		writeObject(&b, o, path)
		for _, f := range o.fields {
			if f.elem == nil {
				continue
			}
			p := join(path, f.key)
			switch f.kind {
			case vList:
				p += "[]"
			case vMap:
				p += ".<name>"
			}
			walk(f.elem, p)
		}
	}
	walk(specObj, "")
	writeChecks(&b)
	writeTopicConfigs(&b)
	return b.Bytes()
}

func writeObject(b *bytes.Buffer, o *object, path string) {
	title := "Top level"
	if path != "" {
		title = "`" + path + "`"
	}
	fmt.Fprintf(b, "## %s\n\n%s\n\n| key | type | default | description |\n| --- | --- | --- | --- |\n", title, o.doc)
	for _, f := range o.fields {
		def := f.def
		if def == "" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		key := "`" + f.key + "`"
		if f.required {
			key += " (required)"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", key, kindText(f), def, strings.ReplaceAll(f.doc, "|", `\|`))
	}
	if o.extra != "" {
		fmt.Fprintf(b, "\n%s\n", o.extra)
	}
	b.WriteString("\n")
}

func kindText(f field) string {
	switch f.kind {
	case vInt:
		return "integer"
	case vBool:
		return "boolean"
	case vDuration:
		return "duration"
	case vDurationMs:
		return "duration (ms)"
	case vSize:
		return "size"
	case vStringList:
		return "list of strings"
	case vObject:
		return "mapping"
	case vList:
		return "list of mappings"
	case vMap:
		return "mapping of name → mapping"
	case vTopicConfig:
		return "Kafka topic configs"
	}
	if len(f.enum) > 0 {
		return "one of `" + strings.Join(f.enum, "`, `") + "`"
	}
	return "string"
}

// writeChecks lists the rules that span several keys, which neither the tables nor the schema show.
func writeChecks(b *bytes.Buffer) {
	b.WriteString(`## Checks beyond types

- broker ids and hosts are unique, and listener ports are unique per host (render and dev up: across brokers); each broker has a plaintext or ssl port;
  an ssl port needs ` + "`tls.enabled`" + `, and ` + "`tls.enabled`" + ` needs an ssl port; a rack on some brokers but not all
  is a warning.
- every topic has partitions (1 or more) and a replicationFactor no larger than the number of brokers,
  set on the topic or in ` + "`topicDefaults`" + `.
- ` + "`min.insync.replicas`" + ` must not exceed the replicationFactor; equal (above 1) is a warning, because one
  broker down then stops producers using ` + "`acks=all`" + `.
- ` + "`min.compaction.lag.ms`" + ` must not exceed ` + "`max.compaction.lag.ms`" + `.
- ` + "`retention`" + ` and ` + "`config.retention.ms`" + ` on the same topic (or in topicDefaults) are an error: keep one.
- topic names follow Kafka's rules (letters, digits, ` + "`.`, `_`, `-`" + `; at most 249 characters; not ` + "`.`" + ` or
  ` + "`..`" + `), are unique, and names differing only in ` + "`.`" + ` vs ` + "`_`" + ` are a warning (they collide in Kafka's
  metric names); names starting with ` + "`__`" + ` are a warning.
- ` + "`tls.renewBefore`" + ` is shorter than ` + "`tls.validity`" + `; TLS keystores other than PEM need ` + "`passwordEnv`" + ` or
  ` + "`passwordFile`" + ` (not both); ` + "`tls.clients`" + ` principals are unique and name files in ` + "`tls.dir`" + ` (letters, digits,
  ` + "`.`, `_`, `-`" + `; not ` + "`ca`" + `, ` + "`keystore`" + ` or a broker's host); extraSANs are host names, wildcards or IPs.
- a written zero is refused where it would silently mean "off" or "the default": ` + "`ports.*: 0`" + ` (leave the
  key out), ` + "`timeout`" + `/` + "`validity`" + `/` + "`renewBefore: 0s`" + `; an empty list item, ` + "`\"\"`" + `, ` + "`~`" + `, ` + "`null`" + ` or no value at all
  for a required key is missing.
- cluster names are DNS labels; ` + "`embedded`" + ` takes no bootstrap; bootstrap entries are host:port;
  ` + "`security: sasl_ssl`" + ` needs ` + "`sasl`" + ` (and ` + "`sasl`" + ` needs it); TLS files need ` + "`security: ssl`" + `;
  certFile and keyFile go together.
- device names are unique; addresses parse for their kind (host:port, URL, or serial device path).
- ` + "`deletion: prune`" + ` with no topics is a warning: the desired state is empty, so ` + "`apply --allow-delete`" + ` would
  delete every topic avatar-sync manages.
- deprecated Kafka configs are warnings (` + "`validate --strict`" + ` turns warnings into failures).
- ` + "`tls.internal`" + ` needs ` + "`tls.enabled`" + `.
- a broker's ` + "`ports.sasl`" + ` (SASL_SSL, SCRAM over TLS; [access.md](access.md#rendered-deployments)) needs
  ` + "`tls.enabled`" + `, ` + "`tls.internal`" + ` and ` + "`kafka.sasl`" + `, the SCRAM admin (SCRAM-SHA-256/512, a user name
  ` + "`kafka-storage format --add-scram`" + ` can carry, a password reference); ` + "`kafka.sasl`" + ` without a SASL
  listener, and a Kubernetes target whose ` + "`sasl`" + ` user is not ` + "`kafka.sasl`" + `'s, are warnings.
- access control ([access.md](access.md)): user names are unique; SCRAM users need ` + "`passwordEnv`" + ` or
  ` + "`passwordFile`" + ` and at least 4096 iterations, mtls principals take no password; services, quotas name
  declared users and services and acls name declared topics (a literal topic ACL); a consumer names its
  groups; a service has a role; an ACL principal is ` + "`User:<name>`" + ` and its operations are Kafka's; no ACL is asked
  for twice (by two entries, or an entry and a service role) and no allow contradicts a deny; a quota sets
  a limit and names an entity once. ` + "`security: sasl_plaintext`" + ` is for the embedded target (which then
  enforces SASL SCRAM and ACLs, its ` + "`sasl`" + ` user the super user) or a ` + "`dev up`" + ` on this machine.

`)
}

func writeTopicConfigs(b *bytes.Buffer) {
	b.WriteString(`## Kafka topic configs

The keys allowed under ` + "`config:`" + ` in a topic or ` + "`topicDefaults`" + `: Kafka 3.9's topic-level configs.
Enum values are matched case-insensitively and stored in Kafka's spelling; list values may be written as
` + "`compact,delete`" + ` or as a YAML list (inside ` + "`{ }`" + ` quote it, ` + "`\"compact,delete\"`" + `: there a comma separates entries).

| key | type | Kafka default | allowed | description |
| --- | --- | --- | --- | --- |
`)
	for _, d := range topicConfigs {
		allowed := "—"
		switch {
		case len(d.Enum) > 0:
			allowed = "`" + strings.Join(d.Enum, "`, `") + "`"
		case d.Min != nil || d.Max != nil:
			allowed = strings.TrimPrefix(strings.TrimPrefix(d.rangeText(), "the allowed range "), "(")
			allowed = strings.TrimSuffix(allowed, ")")
		}
		doc := d.Doc
		if d.Deprecated != "" {
			doc = "**deprecated**: " + d.Deprecated + ". " + doc
		}
		fmt.Fprintf(b, "| `%s` | %s | `%s` | %s | %s |\n", d.Key, d.Type, humanDefault(d), allowed, doc)
	}
}
