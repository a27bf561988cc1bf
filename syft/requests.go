package syft

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"sync"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/approvals"
	"github.com/gomplab/gomplab/workers/jobs"
)

// This file is the client side of code requests (docs/privacy.md): what
// a data scientist submits to run a job or a plan on data they may not
// read, and what a data owner's admin session reviews and decides. The
// worker side is package workers/approvals; job.start carries the
// request, and each worker checks it again before its party starts
// (workers/jobs).

// ErrNotApproved is what every refusal for want of an owner's approval
// wraps: a job or plan refused before it starts (*ApprovalError), and a
// restricted party's refused reveal (mpc.ErrNotApproved).
var ErrNotApproved = mpc.ErrNotApproved

// Load is data a job declares it reads, beyond what its source shows
// (approvals.InferLoads finds mpc.Load and nn.LoadModel calls with
// constant tags): the object tagged Tag at rank Rank's worker, of Kind
// "tensor" (the default) or "model".
type Load = approvals.Load

// Limits are what an owner's approval allows beyond the exact request:
// a number of runs, an expiry (Unix nanoseconds), argument ranges.
type Limits = approvals.Limits

// ArgRange lets numeric argument Index vary within [Lo, Hi] under an
// approval.
type ArgRange = approvals.ArgRange

// Verdict is one worker's answer about a request: its status there, the
// data it loads there and, when it may not run, why and what to do.
type Verdict = approvals.Verdict

// RequestSummary is one request as a listing shows it.
type RequestSummary = approvals.Summary

// Request statuses.
const (
	StatusAllowed   = approvals.StatusAllowed
	StatusPending   = approvals.StatusPending
	StatusApproved  = approvals.StatusApproved
	StatusDenied    = approvals.StatusDenied
	StatusExhausted = approvals.StatusExhausted
	StatusExpired   = approvals.StatusExpired
)

// RequestStatus is where a job's request stands on every worker it
// involves.
type RequestStatus struct {
	// ID is the request's id: the digest of everything it binds.
	ID string
	// Request is what the owners review and approve.
	Request *approvals.Request
	// Verdicts are the workers' answers, the parties in rank order, then
	// the dealer.
	Verdicts []Verdict
}

// OK reports whether the request may run on every worker.
func (s *RequestStatus) OK() bool {
	for i := range s.Verdicts {
		if !s.Verdicts[i].OK() {
			return false
		}
	}
	return true
}

// Err is nil when the request may run everywhere, else an
// *ApprovalError.
func (s *RequestStatus) Err() error {
	if s.OK() {
		return nil
	}
	return &ApprovalError{ID: s.ID, Verdicts: s.Verdicts}
}

// String is one line per worker.
func (s *RequestStatus) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "request %s:", s.ID)
	for _, v := range s.Verdicts {
		fmt.Fprintf(&b, "\n  %s: %s", v.Worker, v.Status)
		if !v.OK() && v.Reason != "" {
			fmt.Fprintf(&b, " (%s)", v.Reason)
		}
	}
	return b.String()
}

// HTML renders the status for a notebook.
func (s *RequestStatus) HTML() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="gomplab-request"><p>request <code>%s</code></p><table><thead><tr><th>worker</th><th>status</th><th>why</th></tr></thead><tbody>`, html.EscapeString(s.ID))
	for _, v := range s.Verdicts {
		color := "#070"
		if !v.OK() {
			color = "#b00"
		}
		fmt.Fprintf(&b, `<tr><td>%s</td><td style="color:%s">%s</td><td>%s</td></tr>`, html.EscapeString(v.Worker), color,
			html.EscapeString(string(v.Status)), html.EscapeString(v.Reason))
	}
	b.WriteString("</tbody></table></div>")
	return b.String()
}

// ApprovalError is a job or plan refused before anything started because
// some worker's owners have not approved its request. It names the
// request and, for each worker that refused, the objects, their owners
// and what to do (the approve command); it carries no values.
// errors.Is(err, ErrNotApproved) holds.
type ApprovalError struct {
	ID       string
	Verdicts []Verdict
}

// Error names the request and each refusal.
func (e *ApprovalError) Error() string {
	var b strings.Builder
	n := 0
	for _, v := range e.Verdicts {
		if !v.OK() {
			n++
		}
	}
	fmt.Fprintf(&b, "syft: request %s is not approved on %d of %d workers; nothing was started", e.ID, n, len(e.Verdicts))
	for _, v := range e.Verdicts {
		if !v.OK() {
			b.WriteString("\n  ")
			b.WriteString((&approvals.RefusalError{Verdict: v}).Error())
		}
	}
	return b.String()
}

// Is reports ErrNotApproved and workers.ErrPermission.
func (e *ApprovalError) Is(target error) bool {
	return target == ErrNotApproved || target == workers.ErrPermission
}

// Submit submits j's request to every worker it involves, without
// running it: the data scientist's first step on data they may not read.
// Each worker keeps it as pending where its owners must decide; the
// status says where it stands on each. Job.Run submits as well, so an
// approved request then runs with no further step.
func Submit(j *Job) (*RequestStatus, error) {
	o, err := j.validate()
	if err != nil {
		return nil, err
	}
	st, errs := o.submit()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("syft: %w", err)
	}
	return st, nil
}

// RequestStatusOf asks every worker where j's request stands (submitting
// it, as Submit does, where it was not yet).
func RequestStatusOf(j *Job) (*RequestStatus, error) { return Submit(j) }

// ListRequests lists the requests on w, newest first: every request for
// an owner's (admin's) session, one's own for anyone else; status, when
// given, keeps only those.
func ListRequests(w Worker, status ...approvals.Status) ([]RequestSummary, error) {
	if w == nil {
		return nil, errNilWorker
	}
	q := approvals.ListRequest{}
	if len(status) > 0 {
		q.Status = status[0]
	}
	var rep approvals.ListReply
	if err := w.link().call(approvals.MsgList, &q, &rep); err != nil {
		return nil, fmt.Errorf("syft: list requests on %s: %w", w.ID(), err)
	}
	return rep.Requests, nil
}

// RequestReview is one request as its owners review it.
type RequestReview struct {
	Record approvals.Record
	Status approvals.Status
	// Review is the text an owner reads before deciding: the exact code,
	// its arguments, what it loads here and elsewhere, the parties and
	// the provider, who receives results, and the commands that decide.
	Review string
}

// String is the review text.
func (r *RequestReview) String() string { return r.Review }

// ShowRequest returns request id on w with its review text (an owner
// sees any request; anyone else their own). requester names whose
// request it is when several users submitted the same one.
func ShowRequest(w Worker, id string, requester ...string) (*RequestReview, error) {
	if w == nil {
		return nil, errNilWorker
	}
	q := approvals.ShowRequest{ID: id}
	if len(requester) > 0 {
		q.Requester = requester[0]
	}
	var rep approvals.ShowReply
	if err := w.link().call(approvals.MsgShow, &q, &rep); err != nil {
		return nil, fmt.Errorf("syft: show request %s on %s: %w", id, w.ID(), err)
	}
	return &RequestReview{Record: rep.Record, Status: rep.Status, Review: rep.Review}, nil
}

// Approve approves request id of requester ("" when only one user
// submitted it) on w, an owner's (admin's) session, within limits (at
// most one; none: no limit). The request then runs with no further step
// for that requester.
func Approve(w Worker, id, requester string, limits ...Limits) (*RequestSummary, error) {
	if w == nil {
		return nil, errNilWorker
	}
	if len(limits) > 1 {
		return nil, errors.New("syft: Approve takes at most one Limits")
	}
	q := approvals.ApproveRequest{ID: id, Requester: requester}
	if len(limits) == 1 {
		q.Limits = limits[0]
	}
	var rep approvals.DecideReply
	if err := w.link().call(approvals.MsgApprove, &q, &rep); err != nil {
		return nil, fmt.Errorf("syft: approve request %s on %s: %w", id, w.ID(), err)
	}
	return &rep.Summary, nil
}

// Deny denies request id of requester on w, an owner's session, with a
// reason the requester sees.
func Deny(w Worker, id, requester, reason string) (*RequestSummary, error) {
	if w == nil {
		return nil, errNilWorker
	}
	var rep approvals.DecideReply
	if err := w.link().call(approvals.MsgDeny, &approvals.DenyRequest{ID: id, Requester: requester, Reason: reason}, &rep); err != nil {
		return nil, fmt.Errorf("syft: deny request %s on %s: %w", id, w.ID(), err)
	}
	return &rep.Summary, nil
}

// fingerprint is the fingerprint a request names w by: the one this
// client pinned, or, on a session that pinned none (loopback without
// TLS, where the session is not authenticated either), the one the
// worker reports.
func (l *link) fingerprint() (string, error) {
	if l.identity != "" {
		return l.identity, nil
	}
	l.fpOnce.Do(func() {
		var rep workers.PingReply
		if err := l.call(workers.MsgPing, struct{}{}, &rep); err != nil {
			l.fpErr = fmt.Errorf("asking worker %s for its fingerprint: %w", l.id, err)
			return
		}
		l.reported = rep.Fingerprint
	})
	return l.reported, l.fpErr
}

// defaultRecipients are who may learn decrypted values when a job names
// none: every party (GetPlainText opens to all) and the requester (the
// parties' results come back).
var defaultRecipients = []string{mpc.RecipientAllParties, mpc.RecipientRequester}

// buildRequest is the request the job's run binds: its code, arguments,
// parties with their fingerprints, provider and dealer, loads (inferred
// from the code, plus Job.Loads), recipients and note.
func (o *jobRun) buildRequest() error {
	j := o.j
	n := len(j.Workers)
	r := &approvals.Request{Kind: approvals.KindJob, ArgsHash: approvals.ArgsDigest(o.shared.Args),
		Provider: jobs.ProviderOf(&o.shared), Note: j.Note}
	if len(o.shared.Plan) > 0 {
		r.Kind, r.Plan = approvals.KindPlan, o.shared.Plan
		r.Loads = approvals.PlanLoads(o.shared.Plan, n)
	} else {
		r.Program = o.shared.Program
		r.Loads = approvals.InferLoads(o.shared.Program.Source, n)
	}
	for _, l := range j.Loads {
		if l.Kind == "" {
			l.Kind = approvals.LoadTensor
		}
		r.Loads = append(r.Loads, l)
	}
	r.Recipients = j.Recipients
	if len(r.Recipients) == 0 {
		r.Recipients = defaultRecipients
	}
	for _, w := range j.Workers {
		fp, err := w.link().fingerprint()
		if err != nil {
			return fmt.Errorf("syft: %w", err)
		}
		r.Parties = append(r.Parties, approvals.Party{Worker: w.ID(), Fingerprint: fp})
	}
	if j.Dealer != nil {
		fp, err := j.Dealer.link().fingerprint()
		if err != nil {
			return fmt.Errorf("syft: %w", err)
		}
		r.Dealer = &approvals.Party{Worker: j.Dealer.ID(), Fingerprint: fp}
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("syft: the job's request: %w", err)
	}
	o.req = r.Canonical()
	return nil
}

// submit sends the request to every worker the job involves (the
// parties, then the dealer: o.ends) at once and gathers their verdicts;
// errs[i] is worker i's failure to answer.
func (o *jobRun) submit() (*RequestStatus, []error) {
	ws := o.ends // the parties in rank order, then the dealer
	st := &RequestStatus{ID: o.req.ID(), Request: o.req, Verdicts: make([]Verdict, len(ws))}
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rep approvals.SubmitReply
			if err := w.link().call(approvals.MsgSubmit, &approvals.SubmitRequest{Request: *o.req, Args: o.shared.Args}, &rep); err != nil {
				errs[i] = fmt.Errorf("submitting request %s to worker %s: %w", st.ID, w.ID(), err)
				return
			}
			st.Verdicts[i] = rep.Verdict
		}()
	}
	wg.Wait()
	return st, errs
}

// WithRecipients names who may learn decrypted values (Job.Recipients),
// among the arguments of RunMultiWorkers, RunSource or RunPlan.
func WithRecipients(rs ...string) JobOption {
	return func(j *Job) { j.Recipients = append([]string{}, rs...) }
}

// WithNote gives the owners who review the job's request a note
// (Job.Note).
func WithNote(note string) JobOption {
	return func(j *Job) { j.Note = note }
}

// WithLoads declares loads the job's source does not show (Job.Loads):
// tags computed at run time.
func WithLoads(ls ...Load) JobOption {
	return func(j *Job) { j.Loads = append(j.Loads, ls...) }
}
