// Package fast is a fixture that needs unsafe, which cells cannot interpret.
package fast

import "unsafe"

// Size is the size of an int.
func Size() uintptr { var i int; return unsafe.Sizeof(i) }
