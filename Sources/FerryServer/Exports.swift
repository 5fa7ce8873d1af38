// The storage seams, their memory twins and the server's configuration live in `FerryLog`,
// a module without Hummingbird or PostgresNIO; an app that embeds a server names them through
// `FerryServer` alone.
@_exported import FerryLog
