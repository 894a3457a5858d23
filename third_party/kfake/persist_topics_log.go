package kfake

// avatar-sync patch (the seventh, PATCHES.md): a request that changes topic
// configs appends the changed topics to topics.log, one framed entry per
// request, instead of rewriting topics.json with every topic of the cluster.
// Kafka does the same in KRaft: an AlterConfigs appends ConfigRecords to the
// metadata log; it never rewrites every topic. topics.json stays the snapshot:
// it is rewritten as before by the requests that add, remove or re-place
// topics, on Close, on load when topics.log is not empty, and when topics.log
// reaches state.log.compact.bytes; each rewrite removes topics.log.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

const topicsLogFile = "topics.log"

type (
	// topicsLogEntry is one request's topic config changes: every topic
	// it changed, with the whole set of configs the topic has after it.
	topicsLogEntry struct {
		Topics []topicsLogTopic `json:"topics"`
	}

	topicsLogTopic struct {
		Name string `json:"name"`
		// ID makes a replayed entry skip a topic deleted (and maybe
		// created again under its name) after the entry was written.
		ID      uuid              `json:"id"`
		Configs map[string]string `json:"configs,omitempty"`
	}
)

// persistTopicConfigs saves the configs of the named topics, which one request
// changed, before the request is answered: one entry appended to topics.log
// and synced. A change that was answered is on disk even if the process is
// killed right after. If the append fails, the whole state is saved instead.
func (c *Cluster) persistTopicConfigs(names []string) {
	if !c.persist() {
		return
	}
	if err := c.appendTopicConfigs(names); err != nil {
		c.cfg.logger.Logf(LogLevelWarn, "persist topic configs: %v; saving topics.json instead", err)
		c.persistTopicsState()
		return
	}
	if c.topicsLogSize >= c.stateLogCompactBytes() {
		c.persistTopicsState()
	}
}

func (c *Cluster) appendTopicConfigs(names []string) error {
	entry := topicsLogEntry{Topics: make([]topicsLogTopic, 0, len(names))}
	for _, name := range names {
		id, ok := c.data.t2id[name]
		if !ok {
			continue
		}
		entry.Topics = append(entry.Topics, topicsLogTopic{Name: name, ID: id, Configs: savedConfigs(c.data.tcfgs[name])})
	}
	if len(entry.Topics) == 0 {
		return nil
	}
	path := filepath.Join(c.cfg.dataDir, topicsLogFile)
	if c.topicsLogFile == nil {
		f, err := c.fs.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("opening %s: %w", path, err)
		}
		// The file's name must outlive a power loss too, or its synced
		// entries go with it.
		if err := syncDir(c.fs, c.cfg.dataDir); err != nil {
			f.Close()
			return err
		}
		c.topicsLogFile = f
	}
	n, err := appendLogEntry(c.topicsLogFile, entry, true)
	if err != nil {
		// Cut a partial entry off, so that later entries are not
		// appended behind bytes that stop the replay.
		terr := c.topicsLogFile.Truncate(c.topicsLogSize)
		c.topicsLogFile.Close()
		c.topicsLogFile = nil
		return errors.Join(fmt.Errorf("appending to %s: %w", path, err), terr)
	}
	c.topicsLogSize += int64(n)
	return nil
}

// savedConfigs is a topic's configs as topics.json and topics.log hold them:
// the set values only.
func savedConfigs(m map[string]*string) map[string]string {
	var cfgs map[string]string
	for k, v := range m {
		if v != nil {
			if cfgs == nil {
				cfgs = make(map[string]string, len(m))
			}
			cfgs[k] = *v
		}
	}
	return cfgs
}

// loadedConfigs is savedConfigs' inverse: the configs as the cluster holds them.
func loadedConfigs(m map[string]string) map[string]*string {
	cfgs := make(map[string]*string, len(m))
	for k, v := range m {
		cfgs[k] = &v
	}
	return cfgs
}

// dropTopicsLog removes topics.log once topics.json holds everything in it.
// Should the process die before the removal, the entries are replayed onto a
// topics.json that already has them, which changes nothing: each entry holds
// whole config sets, replayed in order, for topic ids that still exist.
func (c *Cluster) dropTopicsLog(fsys fs, dir string) error {
	if c.topicsLogFile != nil {
		c.topicsLogFile.Close()
		c.topicsLogFile = nil
	}
	c.topicsLogSize = 0
	// topics.json's rename must be on disk before the log it replaces is
	// removed: after a power loss, the removal alone would lose answered
	// changes.
	if err := syncDir(fsys, dir); err != nil {
		return err
	}
	if err := fsys.Remove(filepath.Join(dir, topicsLogFile)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("removing %s after saving topics.json: %w", topicsLogFile, err)
	}
	return nil
}

// replayTopicsLog applies topics.log to the topics just loaded from
// topics.json and reports whether it held anything (then topics.json is
// saved and the log removed). An entry cut short by a crash is the last one,
// and was never answered: it is dropped with the bytes after it.
func (c *Cluster) replayTopicsLog(fsys fs, dir string) (bool, error) {
	raw, err := fsys.ReadFile(filepath.Join(dir, topicsLogFile))
	if err != nil {
		if os.IsNotExist(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading %s: %w", topicsLogFile, err)
	}
	entries, validBytes := readEntries(raw)
	if validBytes < len(raw) {
		// A crash mid-append leaves a cut last entry, never answered;
		// anything else is damage, and what follows it is lost: say so.
		c.cfg.logger.Logf(LogLevelWarn, "%s: discarding %d corrupt trailing bytes", topicsLogFile, len(raw)-validBytes)
	}
	for i, e := range entries {
		if e.version > currentPersistVersion {
			return false, fmt.Errorf("%s entry %d: version %d is newer than supported %d", topicsLogFile, i, e.version, currentPersistVersion)
		}
		var entry topicsLogEntry
		if err := json.Unmarshal(e.data, &entry); err != nil {
			return false, fmt.Errorf("parsing %s entry %d: %w", topicsLogFile, i, err)
		}
		for _, t := range entry.Topics {
			if id, ok := c.data.t2id[t.Name]; !ok || id != t.ID {
				continue
			}
			if len(t.Configs) == 0 {
				delete(c.data.tcfgs, t.Name)
				continue
			}
			c.data.tcfgs[t.Name] = loadedConfigs(t.Configs)
		}
	}
	return len(raw) > 0, nil
}

// syncDir makes the names created, renamed or removed in dir durable (on
// disk: memFS, the tests' crash simulation, has no directories to sync).
func syncDir(fsys fs, dir string) error {
	if _, onDisk := fsys.(osFS); !onDisk {
		return nil
	}
	d, err := fsys.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("opening %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
