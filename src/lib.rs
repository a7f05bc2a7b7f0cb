//! Test and example host for the cachemacro workspace.
