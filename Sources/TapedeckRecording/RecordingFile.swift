import Foundation

/// Where a new recording is about to be written: the checks that keep `--force` from touching
/// anything but a recording.
enum RecordingFile {
    /// Makes room for a new recording at `path`.
    ///
    /// Nothing exists there: nothing to do. A recording exists there: with `overwrite` it is removed
    /// (with its `-wal` and `-shm` files), without it the call fails. Anything else at `path` (a
    /// directory, a symbolic link, a file that is not a recording) is an error even with `overwrite`,
    /// and nothing is touched.
    static func prepareForWriting(_ path: String, overwrite: Bool) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let companions = ["-wal", "-shm"].map { path + $0 }
        // The folder must be there and writable: SQLite would only say "unable to open database file".
        let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        var folderIsDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder, isDirectory: &folderIsDirectory) else {
            throw RecordingError.invalidArgument("cannot create \(path): the folder \(folder) does not exist")
        }
        guard folderIsDirectory.boolValue else {
            throw RecordingError.invalidArgument("cannot create \(path): \(folder) is not a folder")
        }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw RecordingError.invalidArgument("cannot create \(path): the folder \(folder) is not writable (\(String(cString: strerror(errno))))")
        }
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) || isLink(path) else {
            // A stale -wal/-shm without its database would be read into the new file.
            for companion in companions where fm.fileExists(atPath: companion) {
                guard overwrite, isRegularFile(companion) else { throw RecordingError.alreadyExists(companion) }
                try fm.removeItem(atPath: companion)
            }
            return
        }
        if isDirectory.boolValue || isLink(path) || !isRegularFile(path) {
            throw RecordingError.invalidArgument("\(path) is not a recording file (it is a directory, a link or a special file); nothing was changed")
        }
        guard overwrite else { throw RecordingError.alreadyExists(path) }
        guard isRecordingOrEmpty(path) else {
            throw RecordingError.invalidArgument("\(path) exists and is not a Tapedeck recording; --force replaces only recordings, nothing was changed")
        }
        for companion in companions where fm.fileExists(atPath: companion) || isLink(companion) {
            guard isRegularFile(companion), !isLink(companion) else {
                throw RecordingError.invalidArgument("\(companion) is not a regular file; nothing was changed")
            }
        }
        for file in [path] + companions where fm.fileExists(atPath: file) {
            try fm.removeItem(atPath: file)
        }
    }

    private static func isLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// An empty file, or an SQLite database whose schema has the recording tables.
    private static func isRecordingOrEmpty(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if header.isEmpty { return true }
        guard header == Data("SQLite format 3\0".utf8) else { return false }
        return (try? RecordingReader(path: path)) != nil
    }
}
