package mpc

import "github.com/gomplab/gomplab/mpc/comm"

func sendUint64s(p *Party, to int, v []uint64) error {
	if err := comm.SendUint64s(p.c, to, v); err != nil {
		return err
	}
	return comm.Flush(p.c, to)
}

func recvUint64s(p *Party, from int, v []uint64) error {
	return comm.RecvUint64s(p.c, from, v)
}
