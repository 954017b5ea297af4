package kvwire_test

import (
	"fmt"

	"github.com/zraft/zraft/protocol/kvwire"
)

func Example() {
	payload, err := kvwire.AppendCommand(nil, kvwire.Set{Key: "color", Value: "blue"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", payload)

	cmd, err := kvwire.DecodeCommand(payload)
	if err != nil {
		panic(err)
	}
	switch c := cmd.(type) {
	case kvwire.Set:
		fmt.Println("set", c.Key, "=", c.Value)
	case kvwire.Watch, kvwire.Delete:
		fmt.Println("other")
	}
	// Output:
	// 53 00 00 00 05 63 6f 6c 6f 72 00 00 00 04 62 6c 75 65
	// set color = blue
}
