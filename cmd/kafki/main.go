package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "kafki: no commands yet")
	os.Exit(2)
}
