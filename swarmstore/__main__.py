from swarmstore.cli import main

raise SystemExit(main())
