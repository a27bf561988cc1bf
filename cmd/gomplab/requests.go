package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/store"
	"github.com/spf13/cobra"
)

// workerRequestsCmd is `gomplab worker requests`: the data owner's review
// of code requests on their own machine (docs/privacy.md).
func workerRequestsCmd() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "requests",
		Short: "Review, approve and deny the code requests of a worker, as its owner",
		Long: `Review the code requests on the worker whose data directory is --data, as
its owner: jobs, plans and federated trainings that data scientists want to
run on private data they may not read. Nothing of such a request runs until
the owner approves it; an approval binds the exact code, its public
arguments, the data it loads, the parties and their certificates, the
provider and dealer, who learns decrypted values, and the requester. Any
change is a new request.

While the daemon runs, the commands reach it through the address it
recorded in the data directory (pinned to its certificate, with the
owner's token); when it is stopped they open its store directly.`,
		Example: `  gomplab worker requests list --data ./alice
  gomplab worker requests show r-0123456789abcdef --data ./alice
  gomplab worker requests approve r-0123456789abcdef --data ./alice --runs 3 --expires 24h
  gomplab worker requests deny r-0123456789abcdef --data ./alice --reason "returns raw rows"`,
	}
	cmd.PersistentFlags().StringVar(&data, "data", "", "the worker's data directory")

	var status string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the requests (newest first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep approvals.ListReply
			if err := adminCall(cmd, data, approvals.MsgList, &approvals.ListRequest{Status: approvals.Status(status)}, &rep); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(rep.Requests) == 0 {
				fmt.Fprintln(out, "no requests")
				return nil
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tREQUESTER\tKIND\tWHAT\tPARTIES\tPROVIDER\tPRIVATE HERE\tRUNS\tSUBMITTED\tNOTE")
			for _, s := range rep.Requests {
				runs := strconv.Itoa(s.RunsUsed)
				if s.Runs > 0 {
					runs += "/" + strconv.Itoa(s.Runs)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Status, s.Requester, s.Kind, s.What,
					strings.Join(s.Parties, ","), s.Provider, strings.Join(s.Restricted, ","), runs,
					time.Unix(0, s.Submitted).UTC().Format("2006-01-02 15:04"), s.Note)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&status, "status", "", "only requests with this status (pending, approved, denied, exhausted, expired)")

	var requester string
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a request as its owner reviews it: the exact code, what it loads, who learns what",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep approvals.ShowReply
			if err := adminCall(cmd, data, approvals.MsgShow, &approvals.ShowRequest{ID: args[0], Requester: requester}, &rep); err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), rep.Review)
			return nil
		},
	}

	var runs int
	var expires string
	var ranges []string
	approve := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a request, within limits; it then runs with no further step",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lim, err := parseLimits(runs, expires, ranges, time.Now())
			if err != nil {
				return err
			}
			var rep approvals.DecideReply
			if err := adminCall(cmd, data, approvals.MsgApprove, &approvals.ApproveRequest{ID: args[0], Requester: requester, Limits: lim}, &rep); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "approved %s of user %s%s\n", rep.Summary.ID, rep.Summary.Requester, describeLimits(lim))
			return nil
		},
	}
	approve.Flags().IntVar(&runs, "runs", 0, "how many times it may run (0: no limit)")
	approve.Flags().StringVar(&expires, "expires", "", "when the approval ends: a duration from now (24h) or a time (2026-12-31T23:00:00Z)")
	approve.Flags().StringArrayVar(&ranges, "arg", nil, "I=LO:HI: numeric argument I may vary within [LO, HI] (repeatable); the others stay bound")
	approve.Flags().StringArrayVar(&ranges, "arg-range", nil, "the same as --arg")

	var reason string
	deny := &cobra.Command{
		Use:   "deny ID",
		Short: "Deny a request, with a reason the requester sees",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return errors.New("--reason TEXT is required: the requester sees it")
			}
			var rep approvals.DecideReply
			if err := adminCall(cmd, data, approvals.MsgDeny, &approvals.DenyRequest{ID: args[0], Requester: requester, Reason: reason}, &rep); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "denied %s of user %s: %s\n", rep.Summary.ID, rep.Summary.Requester, reason)
			return nil
		},
	}
	deny.Flags().StringVar(&reason, "reason", "", "why (the requester sees it)")
	for _, c := range []*cobra.Command{show, approve, deny} {
		c.Flags().StringVar(&requester, "requester", "", "whose request, when several users submitted the same one")
	}
	cmd.AddCommand(list, show, approve, deny)
	return cmd
}

// adminCall sends one request to the worker of data directory dir as its
// owner (daemon.AdminClient).
func adminCall(cmd *cobra.Command, dir, typ string, req, rep any) error {
	if err := requireData(dir); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
	defer cancel()
	c, _, closeAll, err := daemon.AdminClient(ctx, dir)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := c.Call(ctx, typ, req, rep); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w (gomplab worker requests list --data %s shows the requests)", err, dir)
		}
		return err
	}
	return nil
}

// parseLimits reads approve's flags.
func parseLimits(runs int, expires string, ranges []string, now time.Time) (approvals.Limits, error) {
	var lim approvals.Limits
	if runs < 0 {
		return lim, fmt.Errorf("--runs %d: want 0 (no limit) or more", runs)
	}
	lim.Runs = runs
	if expires != "" {
		if d, err := time.ParseDuration(expires); err == nil {
			if d <= 0 {
				return lim, fmt.Errorf("--expires %s: want a positive duration", expires)
			}
			lim.Expires = now.Add(d).UnixNano()
		} else if t, err := time.Parse(time.RFC3339, expires); err == nil {
			lim.Expires = t.UnixNano()
		} else {
			return lim, fmt.Errorf("--expires %q: want a duration (24h, 90m) or an RFC 3339 time (2026-12-31T23:00:00Z)", expires)
		}
	}
	for _, r := range ranges {
		ar, err := parseArgRange(r)
		if err != nil {
			return lim, err
		}
		lim.ArgRanges = append(lim.ArgRanges, ar)
	}
	return lim, nil
}

// parseArgRange reads "I=LO:HI".
func parseArgRange(s string) (approvals.ArgRange, error) {
	bad := fmt.Errorf("--arg %q: want I=LO:HI (argument index I, numbers LO <= HI), e.g. 0=0.1:0.5", s)
	i, rng, ok := strings.Cut(s, "=")
	if !ok {
		return approvals.ArgRange{}, bad
	}
	lo, hi, ok := strings.Cut(rng, ":")
	if !ok {
		return approvals.ArgRange{}, bad
	}
	idx, err1 := strconv.Atoi(strings.TrimSpace(i))
	l, err2 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
	h, err3 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
	if err1 != nil || err2 != nil || err3 != nil || idx < 0 || !(l <= h) {
		return approvals.ArgRange{}, bad
	}
	return approvals.ArgRange{Index: idx, Lo: l, Hi: h}, nil
}

// describeLimits says what an approval allows beyond the exact request.
func describeLimits(l approvals.Limits) string {
	var parts []string
	if l.Runs > 0 {
		parts = append(parts, fmt.Sprintf("%d runs", l.Runs))
	}
	if l.Expires > 0 {
		parts = append(parts, "until "+time.Unix(0, l.Expires).UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	for _, r := range l.ArgRanges {
		parts = append(parts, "argument "+r.String())
	}
	if len(parts) == 0 {
		return " (no limits)"
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
