// intentionally empty: this crate only pins the OpenThread source
