"""ROS 2 adapter: the tracking node and what it is built from.

* :mod:`.track_node` -- the node's wiring (subscriptions, publishers, ``~/reset``, worker thread:
  ``TrackRuntime``) and ``main``; :mod:`.lifecycle_node` -- the same as a managed (lifecycle) node;
  :mod:`.session` -- what the worker does, without ROS: init on a buffered frame, catch-up, the
  backlog policy (``drain`` / ``latest``), LOST and re-detection;
* :mod:`.params` -- the parameter table (typed, described, checked); :mod:`.tracker_settings` --
  the tracker's config dataclass as parameters; :mod:`.startup` -- threads, tracker keywords,
  creation and warm-up; :mod:`.topics` -- the one table of topic names; :mod:`.launch_args` -- the
  launch files' arguments; :mod:`.docs` -- the README's tables from these;
* :mod:`.subscriptions` (QoS following the publishers) and :mod:`.input_monitor` (why frames do not
  arrive);
* :mod:`.outputs` -- output messages from plain values; :mod:`.redetector` -- the template
  re-detector (numpy / OpenCV);
* :mod:`.conversions` (Image and CompressedImage <-> numpy without cv_bridge), :mod:`.geometry` (bearing rays),
  :mod:`.qos`, :mod:`.frame_buffer`, :mod:`.handover`, :mod:`.init_requests`, :mod:`.stamps`,
  :mod:`.status` (IDLE / TRACKING / LOST and statistics).

Only this sub-package (and the bag tools above it) imports ROS; the tracking core knows nothing
of it. :mod:`.topics` and :mod:`.stamps` import no ROS, so the bag tools and launch files use them
freely.
"""
