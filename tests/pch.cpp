// The unit that builds the test programs' precompiled header (backprop and Catch2).
