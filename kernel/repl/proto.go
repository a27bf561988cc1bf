package repl

// The kernel process (which speaks the Jupyter protocol) runs cells in a
// child interpreter process, so a cell that crashes the Go runtime (a panic
// in a goroutine, a stack overflow, running out of memory) costs the
// interpreter state but not the kernel. The two talk over a pair of pipes
// with one JSON object per line: Requests down, Events up.

// Request is one instruction from the kernel process to the interpreter.
type Request struct {
	// Op is "execute", "complete", "inspect", "interrupt" or "input_reply".
	// interrupt and input_reply are handled at once, even while a cell runs
	// (an interrupt with no cell running stops goroutines earlier cells
	// left running, in turn with the others); the others are served one at
	// a time, in order.
	Op string `json:"op"`
	// ID is echoed in the matching "done", "complete" or "inspect" event.
	ID          uint64 `json:"id,omitempty"`
	Code        string `json:"code,omitempty"`
	CursorPos   int    `json:"cursor_pos,omitempty"`
	DetailLevel int    `json:"detail_level,omitempty"`
	AllowStdin  bool   `json:"allow_stdin,omitempty"`
	// Value is the user's answer to an input_request.
	Value string `json:"value,omitempty"`
}

// Event is one report from the interpreter to the kernel process.
type Event struct {
	// Kind is "ready", "stream", "display_data", "update_display_data",
	// "clear_output", "input_request", "done" (a cell finished),
	// "complete", "inspect" or "stuck" (goroutines of earlier cells did
	// not stop after an interrupt; Text says where).
	Kind string `json:"kind"`
	ID   uint64 `json:"id,omitempty"`

	// stream
	Name string `json:"name,omitempty"`
	Text string `json:"text,omitempty"`

	// display_data, update_display_data, and a done cell's result
	Data      map[string]any `json:"data,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	Transient map[string]any `json:"transient,omitempty"`

	// clear_output
	Wait bool `json:"wait,omitempty"`

	// input_request
	Prompt   string `json:"prompt,omitempty"`
	Password bool   `json:"password,omitempty"`

	// done: Error is set when the cell failed.
	Error *CellError `json:"error,omitempty"`

	// complete
	Matches     []string `json:"matches,omitempty"`
	CursorStart int      `json:"cursor_start,omitempty"`
	CursorEnd   int      `json:"cursor_end,omitempty"`

	// inspect
	Found bool `json:"found,omitempty"`
}

// CellError describes why a cell failed, in the shape of a Jupyter error
// message.
type CellError struct {
	Ename     string   `json:"ename"`
	Evalue    string   `json:"evalue"`
	Traceback []string `json:"traceback"`
	// Stuck is set when an interrupted cell did not stop (StuckError):
	// the interpreter must be replaced.
	Stuck bool `json:"stuck,omitempty"`
}

// Error returns "ename: evalue".
func (e *CellError) Error() string { return e.Ename + ": " + e.Evalue }
