package paillier_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"github.com/gomplab/gomplab/mpc/paillier"
	"github.com/gomplab/gomplab/tensor"
)

// A key holder encrypts a tensor; anyone with the public key can then
// compute on it without learning the values; only the key holder decrypts.
func Example() {
	priv, err := paillier.GenerateKey(rand.Reader, paillier.DefaultKeyBits)
	if err != nil {
		log.Fatal(err)
	}
	pub := &priv.PublicKey

	x := tensor.FromSlice([]float64{1.5, -2, 0.25})
	enc, err := paillier.EncryptTensor(pub, x, paillier.DefaultPrecisionBits)
	if err != nil {
		log.Fatal(err)
	}

	// 0.5·x + [10 10 10] - x, all on ciphertexts.
	half, err := enc.MulScalar(0.5)
	if err != nil {
		log.Fatal(err)
	}
	shifted, err := half.AddPlain(tensor.Full(10, 3))
	if err != nil {
		log.Fatal(err)
	}
	result, err := shifted.Sub(enc)
	if err != nil {
		log.Fatal(err)
	}

	plain, err := priv.DecryptTensor(result)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(plain.Data(), result.Scale())
	// Output: [9.25 11 9.875] 17
}

// Integers encrypt directly; negative values come back negative.
func ExampleEncrypt() {
	priv, err := paillier.GenerateKey(rand.Reader, paillier.DefaultKeyBits)
	if err != nil {
		log.Fatal(err)
	}
	a, err := paillier.EncryptInt64(&priv.PublicKey, -40)
	if err != nil {
		log.Fatal(err)
	}
	b, err := paillier.EncryptInt64(&priv.PublicKey, 2)
	if err != nil {
		log.Fatal(err)
	}
	sum, err := a.Add(b)
	if err != nil {
		log.Fatal(err)
	}
	m, err := priv.Decrypt(sum)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m)
	// Output: -38
}

// Ciphertexts under different keys cannot be combined.
func ExampleTensor_Add() {
	alice, err := paillier.GenerateKey(rand.Reader, paillier.DefaultKeyBits)
	if err != nil {
		log.Fatal(err)
	}
	bob, err := paillier.GenerateKey(rand.Reader, paillier.DefaultKeyBits)
	if err != nil {
		log.Fatal(err)
	}
	x := tensor.FromSlice([]float64{1, 2})
	a, _ := paillier.EncryptTensor(&alice.PublicKey, x, 16)
	b, _ := paillier.EncryptTensor(&bob.PublicKey, x, 16)

	_, err = a.Add(b)
	fmt.Println(err)
	fmt.Println(errors.Is(err, paillier.ErrKeyMismatch))
	// Output:
	// paillier: Tensor.Add: operands are encrypted under different public keys
	// true
}
