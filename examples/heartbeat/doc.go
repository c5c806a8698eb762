// Command heartbeat reports devices that go silent. Devices send
// heartbeats (key the device id); a processor written with the Processor
// API keeps each device's last heartbeat time in a key-value store and,
// on a wall-clock punctuator, reports every device not heard from for
// longer than a timeout as offline. A device's first heartbeat, and its
// first after being reported offline, reports it online.
//
// A wall-clock punctuator fires whether or not records arrive, which is
// what noticing silence needs: a stream-time one would wait for the next
// heartbeat.
//
// With no flags it starts an embedded broker, sends heartbeats from a few
// devices that stop one after the other, prints the alerts as they come
// and exits once every device has been reported offline. --brokers runs
// it on a real cluster.
//
//	go run ./examples/heartbeat
//	go run ./examples/heartbeat --brokers localhost:9092 --devices 10
//
// Like every example it uses the public API only (and examples/internal/exrun).
package main
