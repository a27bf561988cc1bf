// Package words holds greet's vocabulary.
package words

// Hello is the greeting.
const Hello = "hello"
