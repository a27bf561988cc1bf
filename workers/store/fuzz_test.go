package store

import (
	"errors"
	"testing"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// FuzzStoredRecord: whatever bytes sit under a key of the store, reading
// them as an object, an object's metadata, a grant or a record never
// panics, and returns either the value that was sealed there or a damage
// error naming the record.
func FuzzStoredRecord(f *testing.F) {
	o := &Object{ID: "x1", Kind: KindTensor, Owner: "u", Tags: []string{"#t"}, Tensor: tensor.FromSlice([]float64{1, 2, 3})}
	full, _ := serde.EncodeBody(o)
	meta, _ := serde.EncodeBody(o.Info())
	grant, _ := serde.EncodeBody(&Grant{ID: "g", TokenHash: "h", User: "u", Actions: []string{GrantUse}})
	f.Add(uint8(0), seal(bucketObjects, []byte("x1"), full))
	f.Add(uint8(1), seal(bucketMeta, []byte("x1"), meta))
	f.Add(uint8(2), seal(bucketGrants, []byte("x1"), grant))
	f.Add(uint8(3), seal([]byte(recordBucketPrefix+"req"), []byte("x1"), []byte("approved")))
	f.Add(uint8(0), []byte(full)) // unsealed
	f.Add(uint8(0), seal(bucketObjects, []byte("other"), full))
	f.Add(uint8(1), []byte(sealMark))
	f.Fuzz(func(t *testing.T, which uint8, v []byte) {
		key := []byte("x1")
		switch which % 4 {
		case 0:
			got, err := decodeStored("x1", v)
			if err != nil {
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("not a damage error: %v", err)
				}
				return
			}
			if got.ID != "x1" {
				t.Fatalf("object %q returned for x1", got.ID)
			}
		case 1:
			in, err := decodeInfo(key, v)
			if err == nil && in.ID != "x1" {
				t.Fatalf("metadata of %q returned for x1", in.ID)
			}
		case 2:
			p, err := openSealed(bucketGrants, key, v)
			if err != nil {
				return
			}
			var g Grant
			serde.DecodeBody(p, &g, storedLimits)
		case 3:
			openSealed([]byte(recordBucketPrefix+"req"), key, v)
		}
	})
}
