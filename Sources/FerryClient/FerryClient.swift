// The local store and sync manager: see the files of this module.
enum FerryClientNamespace {}
