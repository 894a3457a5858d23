package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/session"
)

type unlockOptions struct {
	cluster     clusterFlags
	force       bool
	autoApprove bool
}

// newUnlockCmd releases an apply lock whose holder is gone, as terraform's force-unlock does
// (issue 10 item 10).
func newUnlockCmd(g *globalOptions, s *streams) *cobra.Command {
	o := &unlockOptions{}
	cmd := &cobra.Command{
		Use:   "unlock LOCK-ID",
		Short: "Release the cluster's apply lock left by an apply that is no longer running",
		Long: `unlock releases the cluster-wide apply lock held under LOCK-ID (the ID an apply prints when
it finds the lock held). It shows the holder and asks for confirmation first; without a terminal it
needs --auto-approve. A holder whose process is still running on this machine is refused unless
--force is given: that apply then stops before its next step when it next renews its lease
(within a third of its TTL), and only the request it has in flight may still land.

An apply on the machine where a dead holder ran takes its lock over by itself; unlock is for a
holder on another machine (a killed CI job) or a stray claim.`,
		Example: `  avatar-sync unlock 3f9c2a7d51e04b8c9a6d2e11 --cluster dev`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := g.checkOutput("text"); err != nil {
				return err
			}
			sp, err := loadSpec(ctx, g, s)
			if err != nil {
				return err
			}
			t, err := openTarget(ctx, g, s, sp, o.cluster)
			if err != nil {
				return err
			}
			defer t.Close()
			return unlock(ctx, s, t, args[0], *o)
		},
	}
	f := cmd.Flags()
	o.cluster.bind(f)
	f.BoolVar(&o.force, "force", false, "release the lock even though its holder is still running on this machine")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "release without asking for confirmation")
	return cmd
}

// unlock shows the holder of id, refuses a live one without --force, asks, and releases.
func unlock(ctx context.Context, s *streams, t *session.Target, id string, o unlockOptions) error {
	cur, err := t.HeldLock(ctx, id)
	if err != nil {
		return err
	}
	live := cur.Liveness()
	fmt.Fprint(s.out, cur.Describe(t.Name, live))
	if live == clusters.LivenessRunning && !o.force {
		return fmt.Errorf("refusing to unlock: the holder (pid %d on %s) is still running and may be changing the cluster; wait for it or stop it, or re-run with --force", cur.PID, cur.Host)
	}
	if !o.autoApprove {
		if !isTerminal(s.in) {
			return errors.New("unlock needs confirmation but stdin is not a terminal: make sure the holder above is gone and re-run with --auto-approve")
		}
		if err := askYes(ctx, s.in, s.out, "\nRelease this lock? Another apply may start at once.\n  Only 'yes' will be accepted: "); err != nil {
			return fmt.Errorf("unlock cancelled, the lock is still held: %w", err)
		}
	}
	if err := t.Unlock(ctx, id, "avatar-sync unlock by "+reconcile.DefaultHolder()); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Apply lock %s released.\n", id)
	return nil
}

// askYes asks question on prompt and accepts only "yes". A terminal read is not interrupted by
// Ctrl-C (main catches the signal), so the read runs aside and is abandoned when ctx ends.
func askYes(ctx context.Context, in io.Reader, prompt io.Writer, question string) error {
	fmt.Fprint(prompt, question)
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		ch <- answer{line, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil && a.line == "" {
			return fmt.Errorf("read confirmation: %w", a.err)
		}
		if strings.TrimSpace(a.line) != "yes" {
			return errors.New("the answer was not 'yes'")
		}
		return nil
	case <-ctx.Done():
		fmt.Fprintln(prompt)
		return ctx.Err()
	}
}
