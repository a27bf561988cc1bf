package mpc

import "github.com/gomplab/gomplab/mpc/comm"

// send sends v to party to and flushes it; a failure to send fails p
// (see Err), and a party that has failed sends nothing.
func (p *Party) send(op string, to int, v []uint64) {
	if p.failed() {
		return
	}
	err := comm.SendUint64s(p.c, to, v)
	if err == nil {
		err = comm.Flush(p.c, to)
	}
	if err != nil {
		p.commFail(op, err)
	}
}

// recv fills v from party from; a failure to receive fails p (see Err),
// and a party that has failed leaves v as it is.
func (p *Party) recv(op string, from int, v []uint64) {
	if p.failed() {
		return
	}
	if err := comm.RecvUint64s(p.c, from, v); err != nil {
		p.commFail(op, err)
	}
}
