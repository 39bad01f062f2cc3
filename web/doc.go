// Package web holds the console's pages as templ components. Handlers in
// package handlers render them; they take plain view models and never reach
// the store or the kernel themselves.
package web
