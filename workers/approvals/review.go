package approvals

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// Review is the text an owner reads before deciding on rec: the exact
// code with line numbers, the entry, the argument values, what it loads
// here and elsewhere, the parties and the dealer with their fingerprints,
// the provider (with a warning when another worker's party would see
// every opened value), the recipients in words, what it may save, the
// requester, the status and the limits, and the commands that decide.
func (b *Book) Review(rec *Record) string {
	var w strings.Builder
	r := &rec.Request
	me := b.h.WorkerID()
	fmt.Fprintf(&w, "request %s: a %s from user %s, submitted %s\n", rec.ID, r.Kind, rec.Requester, stamp(rec.Submitted))
	fmt.Fprintf(&w, "status: %s", rec.Status(b.now()))
	if d := rec.Decision; d != nil {
		verb := "denied"
		if d.Approved {
			verb = "approved"
		}
		fmt.Fprintf(&w, " (%s by %s at %s", verb, d.By, stamp(d.At))
		if d.Reason != "" {
			fmt.Fprintf(&w, ": %s", d.Reason)
		}
		w.WriteString(")")
	}
	w.WriteString("\n")
	if r.Note != "" {
		fmt.Fprintf(&w, "note from the requester: %s\n", indentLines(r.Note, "  "))
	}
	w.WriteString("\n")
	b.reviewCode(&w, r)
	reviewArgs(&w, rec.Args)
	w.WriteString("\n")
	reviewLoads(&w, rec, me)
	w.WriteString("\n")
	reviewParties(&w, r, me)
	w.WriteString("\n")
	reviewRecipients(&w, r, rec.Requester)
	w.WriteString("\n")
	if r.Kind == KindTrain {
		fmt.Fprintf(&w, "saves: each round's trained model and its losses stay on this worker, private; the model leaves it only\n"+
			"  as one share of a secure aggregate with enough contributors of the federation above, once\n")
	} else {
		fmt.Fprintf(&w, "saves: what a party that computed on private data saves (mpc.Save) is stored as private, readable only by\n"+
			"  the owners of the worker that stores it and its read-private users, recorded as computed from the owners' data,\n"+
			"  within the worker's per-job save quota\n")
	}
	reviewLimits(&w, rec)
	w.WriteString("\n")
	fmt.Fprintf(&w, "to approve: gomplab worker requests approve %s --data DIR [--runs N] [--expires 24h] [--arg I=LO:HI]\n", rec.ID)
	fmt.Fprintf(&w, "to deny:    gomplab worker requests deny %s --data DIR --reason TEXT\n", rec.ID)
	return w.String()
}

func stamp(ns int64) string {
	if ns == 0 {
		return "never"
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05 UTC")
}

func indentLines(s, indent string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+indent)
}

// reviewCode prints the code: source with line numbers, a plan's
// operations, or a training configuration.
func (b *Book) reviewCode(w *strings.Builder, r *Request) {
	switch r.Kind {
	case KindJob:
		file := r.Program.File
		if file == "" {
			file = "job.go"
		}
		sum := sha256.Sum256([]byte(r.Program.Source))
		fmt.Fprintf(w, "code: function %s, from %s (%d lines, sha256 %s)\n", r.Program.Entry, file,
			strings.Count(r.Program.Source, "\n")+1, hex.EncodeToString(sum[:8]))
		for i, line := range strings.Split(strings.TrimRight(r.Program.Source, "\n"), "\n") {
			fmt.Fprintf(w, "%5d  %s\n", i+1, reviewLine(line))
		}
	case KindPlan:
		sum := sha256.Sum256(r.Plan)
		fmt.Fprintf(w, "code: a plan of %d bytes (sha256 %s)\n", len(r.Plan), hex.EncodeToString(sum[:8]))
		if p, err := plan.Decode(r.Plan, serde.Limits{}); err != nil {
			fmt.Fprintf(w, "  (cannot be decoded: %v)\n", err)
		} else {
			fmt.Fprintf(w, "  %s\n", indentLines(p.String(), "  "))
		}
	case KindTrain:
		sum := sha256.Sum256(r.Train)
		fmt.Fprintf(w, "code: a federated training configuration of %d bytes (sha256 %s)\n", len(r.Train), hex.EncodeToString(sum[:8]))
		if d := b.opts.Describe[KindTrain]; d != nil {
			if s, err := d(r.Train); err != nil {
				fmt.Fprintf(w, "  (cannot be decoded: %v)\n", err)
			} else {
				fmt.Fprintf(w, "  %s\n", indentLines(s, "  "))
			}
		}
	}
}

// reviewArgs prints the public arguments' values.
func reviewArgs(w *strings.Builder, b []byte) {
	args, err := decodeArgs(b)
	if err != nil {
		fmt.Fprintf(w, "arguments: cannot be decoded (%v)\n", err)
		return
	}
	if len(args) == 0 {
		w.WriteString("arguments: none\n")
		return
	}
	fmt.Fprintf(w, "arguments (public, bound exactly unless a range is approved):\n")
	for i, a := range args {
		fmt.Fprintf(w, "  [%d] %s\n", i, argText(a))
	}
}

// argText renders a public argument, cut to a reasonable length.
func argText(v any) string {
	var s string
	switch x := v.(type) {
	case *tensor.Tensor:
		s = fmt.Sprintf("tensor %v: %s", x.Shape(), strings.ReplaceAll(x.String(), "\n", " "))
	case string:
		s = strconv.Quote(x)
	default:
		s = fmt.Sprintf("%T %v", v, v)
	}
	return clip(s, 400)
}

// reviewLoads prints what the request loads here and elsewhere.
func reviewLoads(w *strings.Builder, rec *Record, me string) {
	r := &rec.Request
	rank := r.Rank(me)
	if rank < 0 {
		fmt.Fprintf(w, "loads here: nothing (this worker, %s, is the dealer)\n", me)
	} else if len(rec.Here) == 0 {
		fmt.Fprintf(w, "loads here (worker %s, rank %d): nothing\n", me, rank)
	} else {
		fmt.Fprintf(w, "loads here (worker %s, rank %d):\n", me, rank)
		for _, o := range rec.Here {
			name := "object " + o.ID
			if o.Tag != "" {
				name = fmt.Sprintf("tag %q: object %s", o.Tag, o.ID)
			}
			fmt.Fprintf(w, "  %s, a %s", name, o.Kind)
			if o.Shape != nil {
				fmt.Fprintf(w, " of shape %v", o.Shape)
			}
			fmt.Fprintf(w, ", owner %s", o.Owner)
			if len(o.DataOwners) > 0 {
				fmt.Fprintf(w, ", computed from data of %s", strings.Join(o.DataOwners, ", "))
			}
			switch {
			case o.Restricted:
				fmt.Fprintf(w, ": private, and user %s may not read it\n", rec.Requester)
			case o.Private:
				fmt.Fprintf(w, ": private, but user %s may read it\n", rec.Requester)
			default:
				w.WriteString(": not private\n")
			}
		}
	}
	var other []string
	for _, l := range r.Loads {
		if l.Rank == rank {
			continue
		}
		name := fmt.Sprintf("tag %q", l.Tag)
		if l.Tag == "" {
			name = "object " + l.Object
		}
		other = append(other, fmt.Sprintf("  rank %d (%s): %s, a %s\n", l.Rank, r.Parties[l.Rank].Worker, name, l.Kind))
	}
	if len(other) == 0 {
		w.WriteString("loads elsewhere: nothing\n")
		return
	}
	w.WriteString("loads elsewhere (each worker's owners decide on their own data):\n")
	for _, s := range other {
		w.WriteString(s)
	}
}

func fingerprintText(fp string) string {
	if fp == "" {
		return "no certificate (a virtual worker)"
	}
	return fp
}

// reviewParties prints the parties, the provider and the dealer.
func reviewParties(w *strings.Builder, r *Request, me string) {
	if r.Kind == KindTrain {
		w.WriteString("federation (the workers whose models this worker's may be averaged with; each must prove its certificate,\n" +
			"  and counts as a contributor only if it trained on data the requester may not read under the same configuration):\n")
	} else {
		w.WriteString("parties (each runs the code above; links are authenticated to these certificates):\n")
	}
	for i, p := range r.Parties {
		self := ""
		if p.Worker == me {
			self = "  (this worker)"
		}
		fmt.Fprintf(w, "  rank %d  %s  %s%s\n", i, p.Worker, fingerprintText(p.Fingerprint), self)
	}
	switch r.Provider {
	case "":
		w.WriteString("provider: none: training runs no MPC job; each party trains on its own data, and the models are\n" +
			"  averaged as the configuration above says\n")
	case mpc.ProviderDealer:
		self := ""
		if r.Dealer.Worker == me {
			self = " (this worker)"
		}
		fmt.Fprintf(w, "provider: dealer: worker %s%s, %s, deals the correlated randomness as a trusted third party;\n"+
			"  it receives no shares of data and no opened values, and must not collude with a party\n",
			r.Dealer.Worker, self, fingerprintText(r.Dealer.Fingerprint))
	case mpc.ProviderDealerFree:
		w.WriteString("provider: dealer-free: the two parties generate the correlated randomness between themselves\n" +
			"  (oblivious transfer and homomorphic encryption); no third worker takes part\n")
	default:
		zero := r.Parties[0].Worker
		if zero == me {
			w.WriteString("provider: trusted first party: rank 0 (this worker) deals all correlated randomness, so it\n" +
				"  could see every value the job opens, including the other parties' inputs\n")
		} else {
			fmt.Fprintf(w, "provider: trusted first party.\n  WARNING: rank 0 (%s) will see every value this job opens, including your inputs:\n"+
				"  it deals all correlated randomness and so knows every mask. Approve only if you trust %s's owner with your data;\n"+
				"  otherwise ask for a dealer worker (syft.Dealer) or the dealer-free provider.\n", zero, zero)
		}
	}
}

// reviewRecipients says in words who learns decrypted values.
func reviewRecipients(w *strings.Builder, r *Request, requester string) {
	if r.Kind == KindTrain {
		fmt.Fprintf(w, "who learns what: user %s receives each round's average of the participants' trained models (and of\n"+
			"  their losses), never one participant's model; the configuration above says who averages\n", requester)
		return
	}
	w.WriteString("who learns decrypted values:\n")
	pol := mpc.RevealPolicy{Recipients: r.Recipients}
	any := false
	if pol.AllowsAllParties() {
		var owners []string
		for _, p := range r.Parties {
			owners = append(owners, p.Worker)
		}
		fmt.Fprintf(w, "  opened to every party: the owners of %s see the values the job opens (GetPlainText)\n", strings.Join(owners, " and "))
		any = true
	} else {
		for i, p := range r.Parties {
			if pol.AllowsParty(i) {
				fmt.Fprintf(w, "  opened to party %d only: %s's owner sees the values the job opens to it (GetPlainTextTo(%d))\n", i, p.Worker, i)
				any = true
			}
		}
	}
	if pol.AllowsRequester() {
		fmt.Fprintf(w, "  returned to the requester: user %s receives what the job returns (values, encrypted results summed\n"+
			"  by the requester, printed output, error texts)\n", requester)
		any = true
	}
	if !any {
		fmt.Fprintf(w, "  nobody: no value is opened, and user %s receives only the status, error kinds and lines, and traffic\n", requester)
	} else if !pol.AllowsRequester() {
		fmt.Fprintf(w, "  not the requester: user %s receives only the status, error kinds and lines, and traffic\n", requester)
	}
}

// reviewLimits prints the approval's limits.
func reviewLimits(w *strings.Builder, rec *Record) {
	l := rec.Limits
	if rec.Decision == nil || !rec.Decision.Approved {
		return
	}
	runs := "unlimited"
	if l.Runs > 0 {
		runs = strconv.Itoa(l.Runs)
	}
	fmt.Fprintf(w, "limits: runs %s (%d used), expires %s", runs, rec.RunsUsed, stamp(l.Expires))
	for _, a := range l.ArgRanges {
		fmt.Fprintf(w, ", argument %d in [%g, %g]", a.Index, a.Lo, a.Hi)
	}
	w.WriteString("\n")
}

// reviewLine renders a source line for an owner to read exactly: tabs as
// four spaces, and every character that could hide or reorder text
// (controls, bidirectional overrides, invalid UTF-8) escaped.
func reviewLine(line string) string {
	var b strings.Builder
	for len(line) > 0 {
		c, n := utf8.DecodeRuneInString(line)
		switch {
		case c == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, line[0])
		case c == '\t':
			b.WriteString("    ")
		case c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029' ||
			(c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069') || c == '\ufeff' || c == '\u200b':
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteRune(c)
		}
		line = line[n:]
	}
	return b.String()
}
