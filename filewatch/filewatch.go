// Package filewatch turns changes to avatar.yaml (and the files next to it) into reconcile
// triggers. fsnotify lives only here, so the reconcile loop stays testable without a file system.
package filewatch

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// Source watches the directory holding one file. Editors and git replace files by rename, which
// a watch on the file itself would lose; watching the directory and filtering by name survives it.
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
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", filepath.Dir(abs), err)
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
				if filepath.Clean(ev.Name) != abs || ev.Op == fsnotify.Chmod {
					continue
				}
				pending = fmt.Sprintf("%s %s", filepath.Base(abs), opWord(ev.Op))
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
