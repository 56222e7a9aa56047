"""ROS 2 adapter: message conversions, camera geometry, QoS and the tracking node.

Only this sub-package imports ROS; the tracking core knows nothing of it.
"""
