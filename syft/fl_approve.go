package syft

import (
	"fmt"

	"github.com/gomplab/gomplab/workers/approvals"
)

// Training requests, an owner's side: a worker files a request of kind
// train the first time fl.train reads data the requester may not read
// (the federation, the training configuration and the datasets, package
// workers/fl); its owner reviews and approves it here, on an owner's
// session, or with `gomplab worker requests` on the worker's machine.

// TrainingRequests lists the training requests worker w keeps (every
// requester's, on an owner's session; one's own otherwise), newest
// first.
func TrainingRequests(w Worker) ([]approvals.Summary, error) {
	if w == nil {
		return nil, errNilWorker
	}
	var rep approvals.ListReply
	if err := w.link().call(approvals.MsgList, &approvals.ListRequest{}, &rep); err != nil {
		return nil, fmt.Errorf("list requests on %s: %w", w.ID(), err)
	}
	var out []approvals.Summary
	for _, s := range rep.Requests {
		if s.Kind == approvals.KindTrain {
			out = append(out, s)
		}
	}
	return out, nil
}

// ReviewTraining returns the text an owner reads before deciding on
// training request id on w: the model's architecture, the loss, the
// optimizer and its settings, batch size, steps, rounds and weighting,
// the datasets it trains on, the federation, and who learns what.
func ReviewTraining(w Worker, id string) (string, error) {
	if w == nil {
		return "", errNilWorker
	}
	var rep approvals.ShowReply
	if err := w.link().call(approvals.MsgShow, &approvals.ShowRequest{ID: id}, &rep); err != nil {
		return "", fmt.Errorf("show request %s on %s: %w", id, w.ID(), err)
	}
	if rep.Record.Request.Kind != approvals.KindTrain {
		return "", fmt.Errorf("request %s on %s is a %s request, not a training request", id, w.ID(), rep.Record.Request.Kind)
	}
	return rep.Review, nil
}

// ApproveTraining approves training request id on w: the training runs
// at most the rounds its plan names. Only w's owners may. (Further limits,
// an expiry say: `gomplab worker requests approve --expires`.)
func ApproveTraining(w Worker, id string) error {
	if _, err := ReviewTraining(w, id); err != nil {
		return err
	}
	if err := w.link().call(approvals.MsgApprove, &approvals.ApproveRequest{ID: id}, &approvals.DecideReply{}); err != nil {
		return fmt.Errorf("approve request %s on %s: %w", id, w.ID(), err)
	}
	return nil
}
