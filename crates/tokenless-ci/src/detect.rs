//! Which provider a file belongs to, from its path or, when the path says nothing, its content.
