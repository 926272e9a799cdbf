// Playlists as the API serves them. A stored playlist names its files relatively
// ("720p-00003.m4s"), which works only where every file is reachable under the playlist's own
// address without a credential (public objects). Served by the API, each name becomes a URL that
// works on its own: signed for this server's route, or presigned for the bucket.
//
// The stored text was written by the sandboxed transcoder, which reads hostile files: it is
// served only as far as it looks like ours. Lines are kept when they are tags the engine writes;
// a URI is kept only when it is a name the engine gives HLS files (storage::IsHlsFileName), and
// a segment whose URI is dropped loses its #EXTINF too.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace vidproc::http {

// `url_for` maps a file name to the URL the client should fetch.
std::string RewritePlaylist(std::string_view text,
                            const std::function<std::string(const std::string& name)>& url_for);

}  // namespace vidproc::http
