// Package filewatch turns changes to avatar.yaml (and the files next to it) into reconcile
// triggers. fsnotify lives only here, so the reconcile loop stays testable without a file system.
package filewatch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// Source watches the directory holding one file. Editors and git replace files by rename, which
// a watch on the file itself would lose; watching the directory and filtering by name survives it.
//
// The file may be a symbolic link, as a Kubernetes ConfigMap mounts it: avatar.yaml ->
// ..data/avatar.yaml, ..data -> ..2026_11_30_10_00_00.123/, and an update swaps ..data atomically
// (a rename over it) without touching avatar.yaml itself (issue 10). So, like config reloaders, the
// Source watches every link on the way to the file and the file it resolves to, each through its
// directory, and follows the chain anew after every change.
type Source struct {
	// Path is the watched file.
	Path string
	// Debounce waits for writes to settle before triggering (default 300ms), so one save that
	// arrives as several events runs one pass.
	Debounce time.Duration
}

var _ reconcile.Source = (*Source)(nil)

// Triggers starts watching and returns a channel of debounced triggers; it closes when ctx ends.
func (s *Source) Triggers(ctx context.Context) (<-chan reconcile.Trigger, error) {
	abs, err := filepath.Abs(s.Path)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", s.Path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", s.Path, err)
	}
	chain := &watchedChain{w: w, path: abs, dirs: map[string]bool{}}
	if err := chain.follow(); err != nil {
		w.Close()
		return nil, err
	}
	debounce := s.Debounce
	if debounce <= 0 {
		debounce = 300 * time.Millisecond
	}
	out := make(chan reconcile.Trigger, 1)
	go func() {
		defer close(out)
		defer w.Close()
		var settle <-chan time.Time
		var timer *time.Timer
		pending := ""
		for {
			select {
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				name := filepath.Clean(ev.Name)
				inSpecDir := chain.specDirs[filepath.Dir(name)] && filepath.Ext(name) == ".yaml"
				if !chain.names[name] && !inSpecDir || ev.Op == fsnotify.Chmod {
					continue
				}
				// The link may point elsewhere now: watch the new target before it can change.
				// A chain that does not resolve (mid-swap) keeps the directories already watched.
				_ = chain.follow()
				pending = fmt.Sprintf("%s %s", filepath.Base(abs), opWord(ev.Op))
				if inSpecDir {
					pending = fmt.Sprintf("%s %s", filepath.Join(filepath.Base(abs), filepath.Base(name)), opWord(ev.Op))
				} else if name != abs {
					pending = fmt.Sprintf("%s (via %s %s)", filepath.Base(abs), filepath.Base(name), opWord(ev.Op))
				}
				if timer != nil {
					timer.Stop()
				}
				timer = time.NewTimer(debounce)
				settle = timer.C
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
				// A dropped event (queue overflow) may hide a change: trigger a full pass anyway.
				pending = "file watcher overflow"
				settle = time.After(debounce)
			case <-settle:
				settle = nil
				select {
				case out <- reconcile.Trigger{Reason: pending, At: time.Now()}:
				default:
					// A trigger is already queued; the pass it starts reads the newest file anyway.
				}
			}
		}
	}()
	return out, nil
}

// watchedChain is the watched file, every symbolic link met on the way to it and the file it
// resolves to; an event naming any of them is a change of the file.
type watchedChain struct {
	w     *fsnotify.Watcher
	path  string
	names map[string]bool
	dirs  map[string]bool
	// specDirs are the names in the chain that are directories: -f DIR merges the *.yaml files
	// in it (issue 15), so a change of any of them is a change of the spec.
	specDirs map[string]bool
}

// follow resolves the chain again and watches the directory of every name in it, dropping
// directories no longer on the way. The first watch must succeed (the file's own directory).
func (c *watchedChain) follow() error {
	names := linkChain(c.path)
	dirs := map[string]bool{}
	specDirs := map[string]bool{}
	for n := range names {
		dirs[filepath.Dir(n)] = true
		if fi, err := os.Stat(n); err == nil && fi.IsDir() {
			dirs[n], specDirs[n] = true, true
		}
	}
	for d := range dirs {
		if c.dirs[d] {
			continue
		}
		if err := c.w.Add(d); err != nil {
			if d == filepath.Dir(c.path) {
				return fmt.Errorf("watch %s: %w", d, err)
			}
			delete(dirs, d) // gone already (an old ..2026_* directory): nothing to watch there
		}
	}
	for d := range c.dirs {
		if !dirs[d] {
			_ = c.w.Remove(d)
		}
	}
	c.names, c.dirs, c.specDirs = names, dirs, specDirs
	return nil
}

// linkChain returns p, every symbolic link met while resolving it (whole path or a directory on
// the way, such as ..data) and the path it finally names. Resolution stops at the first missing
// element or after 40 links (a loop).
func linkChain(p string) map[string]bool {
	names := map[string]bool{p: true}
	for hops := 0; hops < 40; hops++ {
		link, target, rest, ok := firstLink(p)
		if !ok {
			break
		}
		names[link] = true
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(link), target)
		}
		p = filepath.Join(target, rest)
		names[p] = true
	}
	return names
}

// firstLink finds the first element of the absolute path p that is a symbolic link: the link's
// path, what it points to, and the rest of p after it.
func firstLink(p string) (link, target, rest string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(p, string(filepath.Separator)), string(filepath.Separator))
	cur := string(filepath.Separator)
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", "", "", false
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			t, err := os.Readlink(cur)
			if err != nil {
				return "", "", "", false
			}
			return cur, t, filepath.Join(parts[i+1:]...), true
		}
	}
	return "", "", "", false
}

func opWord(op fsnotify.Op) string {
	switch {
	case op.Has(fsnotify.Create):
		return "created"
	case op.Has(fsnotify.Remove):
		return "removed"
	case op.Has(fsnotify.Rename):
		return "renamed"
	default:
		return "changed"
	}
}
