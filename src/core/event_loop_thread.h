// Marks the threads that run an event loop shared by many streams. Code that
// may run there (a delta callback writing to a client) must never block: it
// checks OnEventLoopThread() and buffers instead of waiting.
#pragma once

namespace flowrun {

inline thread_local bool t_on_event_loop_thread = false;

inline bool OnEventLoopThread() { return t_on_event_loop_thread; }
inline void MarkEventLoopThread() { t_on_event_loop_thread = true; }

}  // namespace flowrun
